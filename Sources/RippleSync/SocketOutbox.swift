import RippleProtocol
import Synchronization

/// What one sync socket has to send, written in the order posted by a task that exists only
/// while there is something to write.
///
/// An idle socket is the common case (10,000 of them are a benchmark part), and a task kept
/// suspended for a socket's life holds its task-allocator slab and async frame — a few KB per
/// socket (docs/performance.md, memory_per_connection). So the writer is started by the post
/// that finds the outbox empty and ends when it has emptied it. How much may wait here is bounded
/// by what posts: the hub's `maxUnwrittenTransitions` and the session's per-socket limits.
final class SocketOutbox: Sendable {
    /// Writes one message; false when the socket takes nothing more (it failed, or the
    /// message was its last).
    typealias Writer = @Sendable (ServerMessage) async -> Bool

    private struct State {
        var pending: [ServerMessage] = []
        var writer: Writer?
        /// The task writing `pending`, while there is something to write.
        var draining: Task<Void, Never>?
        /// No more posts are taken: the session ended or the socket takes nothing more.
        var closed = false
    }

    private let state = Mutex(State())

    /// Queues `message`; dropped once the outbox is closed.
    func post(_ message: ServerMessage) {
        state.withLock { state in
            guard !state.closed else { return }
            state.pending.append(message)
            startDraining(&state)
        }
    }

    /// Starts writing with `writer`; what was posted before waits for this.
    func start(writingWith writer: @escaping Writer) {
        state.withLock { state in
            state.writer = writer
            startDraining(&state)
        }
    }

    /// Takes no more posts; what was posted is still written (`flushed`).
    func close() {
        state.withLock { $0.closed = true }
    }

    /// Returns once everything posted has been written, or the socket has taken nothing more.
    func flushed() async {
        await state.withLock { $0.draining }?.value
    }

    /// Whether a task is writing: none is while the socket has nothing to send.
    var isWriting: Bool { state.withLock { $0.draining != nil } }

    private func startDraining(_ state: inout State) {
        guard state.draining == nil, let writer = state.writer, !state.pending.isEmpty else { return }
        state.draining = Task { await self.drain(with: writer) }
    }

    private func drain(with writer: Writer) async {
        while let message = nextToWrite() {
            guard await writer(message) else {
                state.withLock { state in
                    state.closed = true
                    state.pending = []
                    state.draining = nil
                }
                return
            }
        }
    }

    /// The oldest message posted; when there is none, the drain ends (in the same critical
    /// section, so a post that follows starts a new one).
    private func nextToWrite() -> ServerMessage? {
        state.withLock { state in
            guard !state.pending.isEmpty else {
                state.draining = nil
                return nil
            }
            return state.pending.removeFirst()
        }
    }
}
