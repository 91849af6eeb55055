import Dispatch
import Foundation
import HummingbirdWSClient
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

    @Test func aGracefulShutdownClosesSyncSocketsGoingAwayAndStopsAccepting() async throws {
        let node = try await TestNode.start()
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let listener = node.server.listener { portSink.yield($0) }
        let lifecycle = ServiceGroup(configuration: .init(services: [listener], logger: Logger(label: "test-listener")))
        let serving = Task { try await lifecycle.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let socket = Task {
            try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/api/sync", logger: Logger(label: "test-client")) { inbound, outbound, _ in
                try await outbound.write(healthySessionFrames()[0])
                for try await _ in inbound.messages(maxSize: 1 << 20) {}
            }
        }
        try await eventually("the sync socket is open") { await node.server.admission.openCount == 1 }
        await lifecycle.triggerGracefulShutdown()

        let closeFrame = try await socket.value
        #expect(closeFrame?.closeCode == .goingAway)
        #expect(closeFrame?.reason == SyncServer.goingAwayReason)
        try await serving.value
        await #expect(throws: (any Error).self) {
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        }
        await node.stop()
    }
}
