import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOWebSocket
import RippleNodeTestSupport
import RippleTestSupport
import ServiceLifecycle
import Testing

@testable import RippleSync

/// The client port stops without losing a connection: cancelled (a node whose role ended at
/// the deadline) it finishes and closes every connection it accepted; shut down gracefully (a
/// role change, SIGTERM) it closes sync sockets going-away and stops accepting.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ClientListenerTests {
    /// Connections accepted after the listener's task was cancelled, before its listener closed,
    /// were dropped by NIO and never closed (their clients waited forever) or, once a request had
    /// made them hold an HTTP channel, trapped the process ("Deinited NIOAsyncWriter without
    /// calling finish()") — the crash the replication server had on a writer stepping down.
    @Test func connectionsAcceptedAsTheListenerIsCancelledAreClosed() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let node = try await TestNode.start { $0.eventLoopGroup = group }
        let request = ByteBuffer(string: "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for _ in 0..<20 {
            let (ports, portSink) = AsyncStream<Int>.makeStream()
            let listener = node.server.listener { portSink.yield($0) }
            let serving = Task { try await listener.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())

            // The server's only event loop is held while the clients connect and send a request
            // (they wait in the kernel), and cancels the listener before it lets go: it accepts
            // them as its accept loop is already ending.
            let clientsConnected = DispatchSemaphore(value: 0)
            await withCheckedContinuation { held in
                group.next().execute {
                    held.resume()
                    clientsConnected.wait()
                    serving.cancel()
                }
            }
            var clients: [any Channel] = []
            for _ in 0..<8 {
                let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
                try await client.writeAndFlush(request)
                clients.append(client)
            }
            clientsConnected.signal()

            _ = await serving.result
            // A wait that can fail: a dropped connection is never closed.
            try await eventually("every client's connection is closed by the server", timeout: .seconds(20)) {
                clients.allSatisfy { !$0.isActive }
            }
        }
        await node.stop()
        try await group.shutdownGracefully()
    }

    /// The socket is read with `RawWebSocket` (bytes until the server closes, bounded): a
    /// Hummingbird client sometimes never returned here under a loaded parallel run.
    @Test func aGracefulShutdownClosesSyncSocketsGoingAwayAndStopsAccepting() async throws {
        let node = try await TestNode.start()
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let listener = node.server.listener { portSink.yield($0) }
        var configuration = ServiceGroupConfiguration(services: [listener], logger: Logger(label: "test-listener"))
        // A drain that never ends fails the test below instead of hanging it.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let lifecycle = ServiceGroup(configuration: configuration)
        let serving = Task { try await lifecycle.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let socket = Task { try await RawWebSocket.listen(port: port, timeout: 30) }
        try await eventually("the sync socket is open") { await node.server.admission.openCount == 1 }
        let shutdownBegan = ContinuousClock.now
        await lifecycle.triggerGracefulShutdown()

        let reply = try await socket.value
        #expect(reply.statusLine == "HTTP/1.1 101 Switching Protocols")
        #expect(reply.closeCode == 1001)
        #expect(reply.serverClosed)
        try await serving.value
        #expect(ContinuousClock.now - shutdownBegan < .seconds(20), "the drain waited for its time limit")
        await #expect(throws: (any Error).self) {
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        }
        await node.stop()
    }
}
