import RippleLog
import Synchronization

/// The batches one link has queued on its `CommitSink` and not yet seen completed. The link's
/// receive loop owns the chain of batches; this holds only what the sink reports back, so the
/// loop can wait for the sink before it starts a new position (a snapshot, or the next link,
/// which resumes from the sink's durable `appliedTimestamp()`), and can stop at the first failure.
///
/// It is also the link's back-pressure: a replica catching up receives faster than it applies,
/// so once the queued batches hold `highWater` bytes the link stops reading the socket
/// (`holdsReads()`), and reads again once they are down to `lowWater` (`resumeReads`). The writer
/// then sees a full socket, and its live tail falls back to reading the log.
final class QueuedApplies: Sendable {
    /// The default `highWater` (`ReplicationClient.Configuration.applyQueueHighWater`).
    static let defaultHighWater = 32 << 20
    /// The default `lowWater`.
    static let defaultLowWater = 8 << 20

    private struct State {
        var queued = 0
        var queuedBytes = 0
        var applied: CommitTimestamp
        var failure: (any Error)?
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var readsHeld = false
        var resumeReads: (@Sendable () -> Void)?
    }

    private let state: Mutex<State>
    private let highWater: Int
    private let lowWater: Int

    init(appliedTimestamp: CommitTimestamp, highWater: Int = defaultHighWater, lowWater: Int = defaultLowWater) {
        state = Mutex(State(applied: appliedTimestamp))
        self.highWater = highWater
        self.lowWater = min(lowWater, highWater)
    }

    /// The newest position the sink has reported durable on this link.
    var appliedTimestamp: CommitTimestamp { state.withLock { $0.applied } }

    /// The first failure the sink reported, if any.
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// The bytes (wire-size estimate) of the batches queued and not yet applied.
    var queuedBytes: Int { state.withLock { $0.queuedBytes } }

    /// A snapshot at `ts` was installed: the sink is there now.
    func installed(_ ts: CommitTimestamp) {
        state.withLock { $0.applied = max($0.applied, ts) }
    }

    /// A batch of about `bytes` bytes was handed to the sink.
    func queued(bytes: Int) {
        state.withLock {
            $0.queued += 1
            $0.queuedBytes += bytes
        }
    }

    /// The sink finished a batch of `bytes` bytes.
    func completed(_ result: Result<CommitTimestamp, any Error>, bytes: Int) {
        let (ready, resume) = state.withLock { state -> ([CheckedContinuation<Void, Never>], (@Sendable () -> Void)?) in
            state.queued -= 1
            state.queuedBytes -= bytes
            switch result {
            case .success(let ts): state.applied = max(state.applied, ts)
            case .failure(let error): if state.failure == nil { state.failure = error }
            }
            var resume: (@Sendable () -> Void)?
            if state.readsHeld, state.queuedBytes <= lowWater {
                state.readsHeld = false
                resume = state.resumeReads
            }
            guard state.queued == 0 else { return ([], resume) }
            defer { state.drainWaiters = [] }
            return (state.drainWaiters, resume)
        }
        resume?()
        for waiter in ready { waiter.resume() }
    }

    /// Whether the link must not read now: true from when the queue reaches `highWater` until it
    /// is back down to `lowWater`, when `resumeReads` is called.
    func holdsReads() -> Bool {
        state.withLock { state in
            if state.queuedBytes >= highWater { state.readsHeld = true }
            return state.readsHeld
        }
    }

    /// Sets what `completed` calls when held reads may go on (on the applier's thread).
    func onResumeReads(_ resume: @escaping @Sendable () -> Void) {
        state.withLock { $0.resumeReads = resume }
    }

    /// Returns once every batch queued so far has completed.
    func drained() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.queued == 0 { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
