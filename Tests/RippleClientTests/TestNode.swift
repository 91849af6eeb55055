import Foundation
import Logging
import RippleAuth
import RippleEngine
import RippleSync

/// A Ripple node serving `NotesApp` in-process on a free loopback port; `restart` stops it and
/// starts a new one on the same data directory, as an operator's restart would.
final class TestNode: Sendable {
    let directory: String
    let port: Int
    private let engine: Engine
    private let task: Task<Void, any Error>

    /// `authenticator` defaults to one that trusts no token issuer.
    static func start(directory: String? = nil, authenticator: Authenticator? = nil) async throws -> TestNode {
        let directory = directory ?? NSTemporaryDirectory() + "ripple-client-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let engine = try Engine.open(path: directory + "/ripple.sqlite3", app: NotesApp.app)
        var logger = Logger(label: "test-node")
        logger.logLevel = .warning
        let authenticator = try authenticator ?? Authenticator(config: AuthConfig(providers: [], adminKey: "test-admin-key"))
        let server = try await SyncServer.make(
            engine: engine, authenticator: authenticator, configuration: SyncServer.Configuration(host: "127.0.0.1", port: 0), logger: logger)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let application = server.application { portSink.yield($0) }
        let task = Task { try await application.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw NodeDidNotStart() }
        return TestNode(directory: directory, port: port, engine: engine, task: task)
    }

    private init(directory: String, port: Int, engine: Engine, task: Task<Void, any Error>) {
        self.directory = directory
        self.port = port
        self.engine = engine
        self.task = task
    }

    /// Stops the node, keeping its data for a restart.
    func stop() async {
        task.cancel()
        _ = await task.result
        engine.close()
    }

    /// Stops this node and starts another on the same data.
    func restart() async throws -> TestNode {
        await stop()
        return try await TestNode.start(directory: directory)
    }

    func remove() async {
        await stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

struct NodeDidNotStart: Error {}
