import NIOCore
import NIOEmbedded
import RippleListener
import Testing

/// Connections a listener wrapped are finished and closed unless its accept loop claimed them.
@Suite struct AcceptedConnectionsTests {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// As the replication server makes it: an unclaimed connection gets an empty `executeThenClose`.
    private func makeAccepted() -> AcceptedConnections<Connection> {
        AcceptedConnections { _ = try? await $0.executeThenClose { _, _ in } }
    }

    @Test func anUnclaimedConnectionIsClosed() async throws {
        let accepted = makeAccepted()
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100))
        _ = try await channel.testingEventLoop.executeInContext {
            try accepted.wrap(channel) { try Connection(wrappingChannelSynchronously: channel) }
        }

        await accepted.closeUnclaimed()
        try await channel.closeFuture.get()
        #expect(!channel.isActive)
    }

    @Test func aClaimedConnectionIsLeftToItsServer() async throws {
        let accepted = makeAccepted()
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100))
        let connection = try await channel.testingEventLoop.executeInContext {
            try accepted.wrap(channel) { try Connection(wrappingChannelSynchronously: channel) }
        }
        accepted.claim(connection.channel)

        await accepted.closeUnclaimed()
        #expect(channel.isActive)
        try await connection.executeThenClose { _, _ in }
        #expect(!channel.isActive)
    }

    @Test func aConnectionAcceptedAfterTheListenerStoppedIsRefusedAndClosed() async throws {
        let accepted = makeAccepted()
        await accepted.closeUnclaimed()
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100))

        let wrapped = try await channel.testingEventLoop.executeInContext {
            do {
                _ = try accepted.wrap(channel) { try Connection(wrappingChannelSynchronously: channel) }
                return "wrapped"
            } catch {
                return "\(error)"
            }
        }
        #expect(wrapped == "the listener is stopping; the connection was closed")
        try await channel.closeFuture.get()
    }
}
