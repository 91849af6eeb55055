import Dispatch
import NIOCore
import NIOPosix
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
}
