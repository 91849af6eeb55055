import NIOCore
import RippleLog
import Synchronization

/// The writer's live tail to one replica. Once the replica has been sent everything in the
/// commit log, each durable commit group goes from the source's commit listener straight to the
/// connection — cut into `commits` messages on the committing thread and handed to the channel,
/// which hops to its event loop — instead of waking the connection's task to read the group back
/// from the log through the reader pool. On a busy machine every hop through the concurrency
/// pool waits behind all other tasks, and those hops were most of the replica's lag.
///
/// The log stays the source of truth: the connection reads it to catch up, and again whenever the
/// tail falls behind (the replica is slower than the writer and the channel stops being
/// writable). Commits the tail did not send are all in the log, so nothing is lost by dropping
/// back.
///
/// Who owns the chain position (`WriterStream`): the connection's task while it reads the log;
/// the tail, under its lock, while live. `goLive` and `waitWhileLive` hand it over.
final class LiveTail: Sendable {
    private enum Mode {
        /// The task reads the log. Groups committed meanwhile are kept (at most `maxKept`
        /// commits) so none falls between the task's last read and going live.
        case catchingUp(kept: [Commit], overflowed: Bool)
        /// The listener sends every group.
        case live(WriterStream)
        /// The replica fell behind; the task must read the log from this position.
        case behind(WriterStream)
        case closed
    }

    /// What the connection's task does after `waitWhileLive`.
    enum Next {
        /// Still live; a heartbeat went out.
        case live
        /// Read the log again from this position.
        case readLog(WriterStream)
        /// The connection is closing.
        case closed
    }

    private struct State {
        var mode = Mode.catchingUp(kept: [], overflowed: false)
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let channel: any Channel
    private let maxKept: Int

    init(channel: any Channel, maxKept: Int) {
        self.channel = channel
        self.maxKept = maxKept
    }

    /// A durable commit group, in commit order (the source's commit listener).
    func committed(_ commits: [Commit]) {
        let wake = state.withLock { state -> CheckedContinuation<Void, Never>? in
            switch state.mode {
            case .catchingUp(var kept, let overflowed):
                guard !overflowed else { return nil }
                state.mode = .closed  // Lets `kept` grow in place.
                if kept.count + commits.count > maxKept {
                    state.mode = .catchingUp(kept: [], overflowed: true)
                } else {
                    kept += commits
                    state.mode = .catchingUp(kept: kept, overflowed: false)
                }
                return nil
            case .live(var stream):
                guard channel.isWritable else {
                    state.mode = .behind(stream)
                    return state.waiter.take()
                }
                do {
                    try send(commits, &stream)
                    state.mode = .live(stream)
                    return nil
                } catch {
                    state.mode = .closed
                    channel.close(promise: nil)
                    return state.waiter.take()
                }
            case .behind, .closed:
                return nil
            }
        }
        wake?.resume()
    }

    /// The task has sent everything through `stream.sentTimestamp` and its last log read found
    /// nothing newer: sends the groups kept meanwhile and goes live. Returns false — read the log
    /// again — when more was committed meanwhile than could be kept.
    func goLive(_ stream: WriterStream) throws(ReplicationError) -> Bool {
        try state.withLock { state throws(ReplicationError) -> Bool in
            guard case .catchingUp(let kept, let overflowed) = state.mode else { return false }
            if overflowed {
                state.mode = .catchingUp(kept: [], overflowed: false)
                return false
            }
            var stream = stream
            try send(kept, &stream)
            state.mode = .live(stream)
            return true
        }
    }

    /// While live: returns when the tail falls behind, the connection closes (or the calling task
    /// is cancelled, which closes the tail), or after `timeout` (then with a heartbeat at the live
    /// position sent, so the replica's read timeout holds).
    func waitWhileLive(timeout: Duration) async -> Next {
        await withTaskCancellationHandler {
            await waitForChange(timeout: timeout)
        } onCancel: {
            close()
        }
        return next()
    }

    private func waitForChange(timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = state.withLock { state -> Bool in
                guard case .live = state.mode else { return false }
                state.waiter = continuation
                return true
            }
            guard waiting else { return continuation.resume() }
            Task { [self] in
                try? await Task.sleep(for: timeout)
                state.withLock { $0.waiter.take() }?.resume()
            }
        }
    }

    private func next() -> Next {
        state.withLock { state -> Next in
            switch state.mode {
            case .live(let stream):
                channel.writeAndFlush(ReplicationMessage.heartbeat(latestTimestamp: stream.sentTimestamp), promise: nil)
                return .live
            case .behind(let stream):
                state.mode = .catchingUp(kept: [], overflowed: false)
                return .readLog(stream)
            case .catchingUp, .closed:
                return .closed
            }
        }
    }

    /// The connection is closing: no more sends, and the task stops waiting.
    func close() {
        let waiter = state.withLock { state in
            state.mode = .closed
            return state.waiter.take()
        }
        waiter?.resume()
    }

    /// Writes the commits of `commits` after `stream.sentTimestamp` (a group the task already
    /// read from the log is skipped). Called under the lock, so messages leave in chain order.
    private func send(_ commits: [Commit], _ stream: inout WriterStream) throws(ReplicationError) {
        let fresh = commits.drop { $0.ts <= stream.sentTimestamp }
        guard !fresh.isEmpty else { return }
        for message in try stream.messages(for: Array(fresh)) {
            channel.writeAndFlush(message, promise: nil)
        }
    }
}
