import NIOCore
import RippleProtocol
import Synchronization

/// What one sync socket has to send, written in the order posted by a task that exists only
/// while there is something to write.
///
/// An idle socket is the common case (10,000 of them are a benchmark part), and a task kept
/// suspended for a socket's life holds its task-allocator slab and async frame — a few KB per
/// socket (docs/performance.md, memory_per_connection). So the writer is started by the post
/// that finds the outbox empty and ends when it has emptied it.
///
/// How much may wait here is bounded by the reader: every message a client sends can post an
/// answer, so a client that sends without reading would make the node hold answers without end.
/// The reader waits (`belowHighWater`) while `highWater` messages are unwritten, which leaves the
/// client's further messages in TCP's buffers; the keep-alive's unanswered pings then close it.
final class SocketOutbox: Sendable {
    /// Unwritten messages at which the reader stops taking the client's messages.
    static let highWater = 1_024

    /// Writes one message; false when the socket takes nothing more (it failed, or the
    /// message was its last).
    typealias Writer = @Sendable (ServerMessage) async -> Bool

    private struct State {
        var pending = CircularBuffer<ServerMessage>()
        var writer: Writer?
        /// The task writing `pending`, while there is something to write.
        var draining: Task<Void, Never>?
        /// No more posts are taken: the session ended or the socket takes nothing more.
        var closed = false
        /// The reader, waiting for `pending` to fall below `highWater`.
        var waitingReader: CheckedContinuation<Void, Never>?
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

    /// Returns at once while fewer than `highWater` messages are unwritten, else once they are
    /// (or the socket takes nothing more). One caller at a time: the socket's reader.
    func belowHighWater() async {
        guard state.withLock({ $0.pending.count >= Self.highWater && !$0.closed }) else { return }
        await withCheckedContinuation { (reader: CheckedContinuation<Void, Never>) in
            let stillFull = state.withLock { state in
                guard state.pending.count >= Self.highWater, !state.closed else { return false }
                state.waitingReader = reader
                return true
            }
            if !stillFull { reader.resume() }
        }
    }

    /// Returns once everything posted has been written, or the socket has taken nothing more.
    func flushed() async {
        await state.withLock { $0.draining }?.value
    }

    /// Whether the reader waits in `belowHighWater`, for tests.
    var isReaderWaiting: Bool { state.withLock { $0.waitingReader != nil } }

    /// Whether a task is writing: none is while the socket has nothing to send.
    var isWriting: Bool { state.withLock { $0.draining != nil } }

    private func startDraining(_ state: inout State) {
        guard state.draining == nil, let writer = state.writer, !state.pending.isEmpty else { return }
        state.draining = Task { await self.drain(with: writer) }
    }

    private func drain(with writer: Writer) async {
        while let message = nextToWrite() {
            guard await writer(message) else {
                let reader = state.withLock { state in
                    state.closed = true
                    state.pending.removeAll()
                    state.draining = nil
                    return state.waitingReader.take()
                }
                reader?.resume()
                return
            }
        }
    }

    /// The oldest message posted; when there is none, the drain ends (in the same critical
    /// section, so a post that follows starts a new one).
    private func nextToWrite() -> ServerMessage? {
        let (message, reader) = state.withLock { state -> (ServerMessage?, CheckedContinuation<Void, Never>?) in
            guard !state.pending.isEmpty else {
                state.draining = nil
                return (nil, nil)
            }
            let message = state.pending.removeFirst()
            return (message, state.pending.count < Self.highWater ? state.waitingReader.take() : nil)
        }
        reader?.resume()
        return message
    }
}
