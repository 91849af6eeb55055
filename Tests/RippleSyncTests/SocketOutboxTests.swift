import RippleProtocol
import RippleTestSupport
@testable import RippleSync
import Synchronization
import Testing

/// `SocketOutbox`: messages written in the order posted, by a task that exists only while there
/// is something to write, and nothing written once the socket takes no more.
@Suite struct SocketOutboxTests {
    /// A writer that records what it is given; it reports the socket done after a FatalError,
    /// as the sync server's does.
    final class Socket: Sendable {
        let written = Mutex<[ServerMessage]>([])

        func write(_ message: ServerMessage) async -> Bool {
            written.withLock { $0.append(message) }
            if case .fatalError = message { return false }
            return true
        }

        var messages: [ServerMessage] { written.withLock { $0 } }
    }

    @Test func writesInOrderWhatWasPostedBeforeAndAfterStart() async {
        let outbox = SocketOutbox()
        let socket = Socket()
        outbox.post(.ping)
        outbox.post(.fatalError(error: "not yet"))
        #expect(!outbox.isWriting)
        outbox.start { await socket.write($0) }
        await outbox.flushed()
        #expect(socket.messages == [.ping, .fatalError(error: "not yet")])
    }

    @Test func keepsNoTaskWhileIdle() async {
        let outbox = SocketOutbox()
        let socket = Socket()
        outbox.start { await socket.write($0) }
        for round in 1...3 {
            outbox.post(.ping)
            await outbox.flushed()
            #expect(!outbox.isWriting)
            #expect(socket.messages.count == round)
        }
    }

    @Test func writesNothingAfterTheSocketsLastMessage() async {
        let outbox = SocketOutbox()
        let socket = Socket()
        outbox.post(.ping)
        outbox.post(.fatalError(error: "bye"))
        outbox.post(.ping)
        outbox.start { await socket.write($0) }
        await outbox.flushed()
        outbox.post(.ping)
        await outbox.flushed()
        #expect(socket.messages == [.ping, .fatalError(error: "bye")])
    }

    @Test func closeStillWritesWhatWasPostedBefore() async {
        let outbox = SocketOutbox()
        let (gate, open) = AsyncStream<Void>.makeStream()
        let socket = Socket()
        outbox.start { message in
            for await _ in gate { break }
            return await socket.write(message)
        }
        outbox.post(.ping)
        outbox.post(.fatalError(error: "last"))
        outbox.close()
        outbox.post(.ping)
        open.yield()
        open.yield()
        await outbox.flushed()
        #expect(socket.messages == [.ping, .fatalError(error: "last")])
    }

    /// A socket whose client does not read: the reader is held at the high-water mark, not the
    /// node's memory, and goes on once the socket writes again.
    @Test func theReaderWaitsWhileHighWaterMessagesAreUnwritten() async throws {
        let outbox = SocketOutbox()
        let socket = Socket()
        for _ in 0..<(SocketOutbox.highWater - 1) { outbox.post(.ping) }
        await outbox.belowHighWater()
        outbox.post(.ping)
        let passed = Mutex(false)
        let reader = Task {
            await outbox.belowHighWater()
            passed.withLock { $0 = true }
        }
        try await eventually("the reader waits") { outbox.isReaderWaiting }
        #expect(!passed.withLock { $0 })
        outbox.start { await socket.write($0) }
        try await boundedValue(of: reader, "the waiting reader goes on")
        await outbox.flushed()
        #expect(socket.messages.count == SocketOutbox.highWater)
    }

    @Test func aSocketThatTakesNothingMoreReleasesTheWaitingReader() async throws {
        let outbox = SocketOutbox()
        for _ in 0..<SocketOutbox.highWater { outbox.post(.ping) }
        let reader = Task { await outbox.belowHighWater() }
        try await eventually("the reader waits") { outbox.isReaderWaiting }
        outbox.start { _ in false }
        try await boundedValue(of: reader, "the waiting reader goes on")
        await outbox.flushed()
        #expect(!outbox.isWriting)
    }
}
