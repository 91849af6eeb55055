import Dispatch
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import RippleReplication

/// A listener that stops while connections are being accepted finishes and closes every one.
@Suite(.timeLimit(.minutes(1))) struct AcceptedConnectionsTests {
    typealias Connection = NIOAsyncChannel<ReplicationMessage, ReplicationMessage>

    /// Connections accepted after the server task was cancelled, before its listener closed, were
    /// dropped by NIO unfinished, and the process trapped ("Deinited NIOAsyncWriter without
    /// calling finish()") as each became active: the crash of a writer stepping down.
    @Test func connectionsAcceptedAsTheServerStopsAreClosed() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        for _ in 0..<20 {
            let server = ReplicationServer(
                host: "127.0.0.1", port: 0, clusterID: "test", secret: Array("cluster secret".utf8), source: MemoryCommitLog(),
                logger: testLogger, eventLoopGroup: group)
            let serverTask = Task { try await server.run() }
            let port = try await server.waitUntilBound()

            // The server's only event loop is held while the clients connect (they wait in the
            // kernel's accept queue) and cancels the server task before it lets go: it accepts
            // them as its accept loop is already ending. (Resumed by a continuation: awaiting a
            // future of the held loop would need the loop.)
            let clientsConnected = DispatchSemaphore(value: 0)
            await withCheckedContinuation { held in
                group.next().execute {
                    held.resume()
                    clientsConnected.wait()
                    serverTask.cancel()
                }
            }
            var clients: [any Channel] = []
            for _ in 0..<8 {
                clients.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
            }
            clientsConnected.signal()

            try await serverTask.value
            for client in clients { try await client.closeFuture.get() }
            #expect(await server.boundPort == nil)
        }
        try await group.shutdownGracefully()
    }

    @Test func anUnclaimedConnectionIsClosed() async throws {
        let accepted = AcceptedConnections<ReplicationMessage, ReplicationMessage>()
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
        let accepted = AcceptedConnections<ReplicationMessage, ReplicationMessage>()
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100))
        let connection = try await channel.testingEventLoop.executeInContext {
            try accepted.wrap(channel) { try Connection(wrappingChannelSynchronously: channel) }
        }
        accepted.claim(connection)

        await accepted.closeUnclaimed()
        #expect(channel.isActive)
        try await connection.executeThenClose { _, _ in }
        #expect(!channel.isActive)
    }

    @Test func aConnectionAcceptedAfterTheListenerStoppedIsRefusedAndClosed() async throws {
        let accepted = AcceptedConnections<ReplicationMessage, ReplicationMessage>()
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
