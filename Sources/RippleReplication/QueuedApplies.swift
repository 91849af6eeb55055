import Synchronization

/// The batches one link has queued on its `CommitSink` and not yet seen completed. The link's
/// receive loop owns the chain of batches; this holds only what the sink reports back, so the
/// loop can wait for the sink before it starts a new position (a snapshot, or the next link,
/// which resumes from the sink's durable `appliedTimestamp()`), and can stop at the first failure.
final class QueuedApplies: Sendable {
    private struct State {
        var queued = 0
        var applied: UInt64
        var failure: (any Error)?
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(appliedTimestamp: UInt64) {
        state = Mutex(State(applied: appliedTimestamp))
    }

    /// The newest position the sink has reported durable on this link.
    var appliedTimestamp: UInt64 { state.withLock { $0.applied } }

    /// The first failure the sink reported, if any.
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// A snapshot at `ts` was installed: the sink is there now.
    func installed(_ ts: UInt64) {
        state.withLock { $0.applied = max($0.applied, ts) }
    }

    /// A batch was handed to the sink.
    func queued() {
        state.withLock { $0.queued += 1 }
    }

    /// The sink finished a batch.
    func completed(_ result: Result<UInt64, any Error>) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.queued -= 1
            switch result {
            case .success(let ts): state.applied = max(state.applied, ts)
            case .failure(let error): if state.failure == nil { state.failure = error }
            }
            guard state.queued == 0 else { return [] }
            defer { state.drainWaiters = [] }
            return state.drainWaiters
        }
        for waiter in ready { waiter.resume() }
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
