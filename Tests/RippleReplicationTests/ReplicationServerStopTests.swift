import NIOCore
import NIOPosix
import RippleTestSupport
import Testing

@testable import RippleReplication

/// A replication server that stops while connections are being accepted finishes and closes
/// every one (`AcceptedConnections`, tested on its own in RippleListenerTests).
@Suite(.timeLimit(.minutes(1))) struct ReplicationServerStopTests {
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

            // The server's only event loop is held while the clients connect and cancels the
            // server task before it lets go: it accepts them as its accept loop is already ending.
            let clients = try await withEventLoopHeld(group.next(), releasing: { serverTask.cancel() }) {
                var clients: [any Channel] = []
                for _ in 0..<8 {
                    clients.append(try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
                }
                return clients
            }

            try await boundedValue(of: serverTask, "the cancelled replication server's run returns")
            for client in clients { try await client.closeFuture.get() }
            #expect(await server.boundPort == nil)
        }
        try await group.shutdownGracefully()
    }
}
