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
            let clients = try await withEventLoopHeld(group.next(), releasing: { serving.cancel() }) {
                var clients: [any Channel] = []
                for _ in 0..<8 {
                    let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
                    try await client.writeAndFlush(request)
                    clients.append(client)
                }
                return clients
            }

            _ = try await boundedResult(of: serving, "the cancelled listener's run returns", timeout: .seconds(30))
            // A wait that can fail: a dropped connection is never closed.
            try await eventually("every client's connection is closed by the server", timeout: .seconds(20)) {
                clients.allSatisfy { !$0.isActive }
            }
        }
        try await bounded("the node stops", timeout: .seconds(30)) { await node.stop() }
        try await bounded("the server's event loop group shuts down", timeout: .seconds(30)) { try await group.shutdownGracefully() }
    }

    /// A connection that had not sent its first request held the cancelled listener's run, and
    /// with it the node's role change, forever: Hummingbird waits for that request (it decides
    /// between HTTP and WebSocket) without heeding cancellation, and nothing closed the socket.
    @Test func aConnectionThatNeverSendsARequestDoesNotHoldTheCancelledListener() async throws {
        let node = try await TestNode.start()
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let listener = node.server.listener { portSink.yield($0) }
        let serving = Task { try await listener.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())

        let idle = try await Self.silentConnection(to: port)

        serving.cancel()
        _ = try await boundedResult(of: serving, "the cancelled listener's run returns", timeout: .seconds(30))
        try await bounded("the server closes the idle connection", timeout: .seconds(30)) { try await idle.closeFuture.get() }
        try await bounded("the node stops", timeout: .seconds(30)) { await node.stop() }
    }

    /// A client that connected and never sent a request held the graceful drain, and so the
    /// node's role change, until the lifecycle's time limit: Hummingbird's shutdown waits for
    /// every connection, and one that has not sent its first request ignores the request to quiesce.
    @Test func aConnectionThatNeverSendsARequestDoesNotHoldTheDrain() async throws {
        let node = try await TestNode.start()
        let (lifecycle, serving, port) = try await Self.serveListener(of: node)
        let idle = try await Self.silentConnection(to: port)

        let shutdownBegan = ContinuousClock.now
        await lifecycle.triggerGracefulShutdown()
        try await boundedValue(of: serving, "the drained listener's run returns")
        #expect(ContinuousClock.now - shutdownBegan < .seconds(20), "the drain waited for the silent client")
        try await bounded("the server closes the idle connection", timeout: .seconds(30)) { try await idle.closeFuture.get() }
        try await bounded("the node stops", timeout: .seconds(30)) { await node.stop() }
    }

    /// The socket is read with `RawWebSocket` (bytes until the server closes, bounded): a
    /// Hummingbird client sometimes never returned here under a loaded parallel run.
    @Test func aGracefulShutdownClosesSyncSocketsGoingAwayAndStopsAccepting() async throws {
        let node = try await TestNode.start()
        let (lifecycle, serving, port) = try await Self.serveListener(of: node)

        let socket = Task { try await RawWebSocket.listen(port: port, timeout: 30) }
        try await eventually("the sync socket is open") { await node.server.admission.openCount == 1 }
        let shutdownBegan = ContinuousClock.now
        await lifecycle.triggerGracefulShutdown()

        let reply = try await boundedValue(of: socket, "the sync socket is closed by the server")
        #expect(reply.statusLine == "HTTP/1.1 101 Switching Protocols")
        #expect(reply.closeCode == 1001)
        #expect(reply.serverClosed)
        try await boundedValue(of: serving, "the drained listener's run returns")
        #expect(ContinuousClock.now - shutdownBegan < .seconds(20), "the drain waited for its time limit")
        await #expect(throws: (any Error).self) {
            try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        }
        await node.stop()
    }

    /// A client that answers pings but never the going-away close held the drain, and so the
    /// node's role change, until the node's time limit; meanwhile the port kept accepting and
    /// the socket kept running what the client sent, mutations included.
    @Test func aClientThatNeverAnswersTheCloseHoldsNeitherTheDrainNorThePort() async throws {
        let node = try await TestNode.start()
        let (lifecycle, serving, port) = try await Self.serveListener(of: node)

        let client = try UnansweringWebSocket(port: port)
        try client.sendText(#"{"type":"Connect","sessionId":"5d0c1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f","connectionCount":0,"lastCloseReason":"InitialConnect"}"#)
        try client.sendText(#"{"type":"Authenticate","baseVersion":0,"tokenType":"Admin","value":"test-admin-key"}"#)
        try client.sendText(Self.recordRun(requestId: 0, tag: "drain-before"))
        let answer = try await client.read { $0.contains("MutationResponse") }
        #expect(answer?.contains(#""success":true"#) == true, "the mutation before the drain runs: \(String(describing: answer))")

        let shutdownBegan = ContinuousClock.now
        await lifecycle.triggerGracefulShutdown()
        let ended = Task { try await client.readToEnd(sendingAfterClose: Self.recordRun(requestId: 1, tag: "drain-after")) }
        // Each probe the port still accepts is closed at once: left open and silent, it would
        // hold the drain until its time limit (a connection that never sent a request is not
        // closed by Hummingbird's graceful shutdown), and the test would measure that instead.
        try await eventually("the port stops accepting") {
            guard let probe = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
            else { return true }
            try? await probe.close()
            return false
        }
        #expect(try await boundedValue(of: ended, "the client reads to the end"), "the server closes the connection")
        #expect(client.closeCode == 1001)
        try await boundedValue(of: serving, "the drained listener's run returns")
        // Held by the client, the drain would last the lifecycle's 30 s limit; a loaded parallel
        // run (the test process's two pool threads shared with every other test) took 9.6 s.
        #expect(ContinuousClock.now - shutdownBegan < .seconds(20), "the drain waited for the client")

        let stats = try await node.engine.query("diagnostics:runStats", ["prefix": "drain"]).value
        #expect(stats["runs"] == 1, "only the mutation sent before the going-away runs: \(stats)")
        await node.stop()
    }

    /// A second client port of `node`, run as a Service as the node runs it: the lifecycle to
    /// shut down, its run, and the port.
    private static func serveListener(of node: TestNode) async throws -> (ServiceGroup, Task<Void, any Error>, Int) {
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let listener = node.server.listener { portSink.yield($0) }
        var configuration = ServiceGroupConfiguration(services: [listener], logger: Logger(label: "test-listener"))
        // A drain that never ends fails the test instead of hanging it.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        let lifecycle = ServiceGroup(configuration: configuration)
        let serving = Task { try await lifecycle.run() }
        var iterator = ports.makeAsyncIterator()
        return (lifecycle, serving, try #require(await iterator.next()))
    }

    /// A connection to `port` that sends nothing, once the listener holds it: a request on a
    /// second connection, accepted after it, has been answered and closed by then.
    private static func silentConnection(to port: Int) async throws -> any Channel {
        let idle = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        let served = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try await served.writeAndFlush(ByteBuffer(string: "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
        try await bounded("the server answers and closes a request's connection", timeout: .seconds(30)) { try await served.closeFuture.get() }
        return idle
    }

    private static func recordRun(requestId: Int, tag: String) -> String {
        #"{"type":"Mutation","requestId":\#(requestId),"udfPath":"diagnostics:recordRun","args":[{"tag":"\#(tag)","counter":"drain"}]}"#
    }
}
