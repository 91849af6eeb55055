import Foundation
import Logging
import RippleAuth
import RippleEngine
import RippleSync
import RippleTestSupport

/// A Ripple node (engine and sync server) in-process on a free loopback port, for the tests of
/// the sync server and of the Swift client alike. `restart` stops it and starts another on the
/// same data, as an operator's restart would; the data directory goes when the last node on it
/// is released.
public final class TestNode: Sendable {
    public let directory: TemporaryDirectory
    public let engine: Engine
    public let server: SyncServer
    /// The address the node listens on (`SyncServer.Configuration.host`, 127.0.0.1 unless configured).
    public let host: String
    public let port: Int
    private let authenticator: Authenticator
    private let task: Task<Void, any Error>

    /// `authenticator` defaults to one that trusts no token issuer and takes the admin key
    /// `test-admin-key`; `configure` adjusts the server's configuration (limits, timestamps).
    public static func start(
        app: App, directory: TemporaryDirectory = TemporaryDirectory(), authenticator: Authenticator? = nil,
        configure: (inout SyncServer.Configuration) -> Void = { _ in }
    ) async throws -> TestNode {
        let engine = try Engine.open(path: directory.database, app: app)
        var logger = Logger(label: "test-node")
        logger.logLevel = .warning
        let authenticator = try authenticator ?? Authenticator(config: AuthConfig(providers: [], adminKey: "test-admin-key"))
        var configuration = SyncServer.Configuration(host: "127.0.0.1", port: 0)
        configure(&configuration)
        let server = try await SyncServer.make(engine: engine, authenticator: authenticator, configuration: configuration, logger: logger)
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let listener = server.listener { portSink.yield($0) }
        let task = Task { try await listener.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            engine.close()
            throw NodeDidNotStart()
        }
        return TestNode(
            directory: directory, engine: engine, server: server, host: configuration.host, port: port, authenticator: authenticator, task: task)
    }

    private init(
        directory: TemporaryDirectory, engine: Engine, server: SyncServer, host: String, port: Int, authenticator: Authenticator,
        task: Task<Void, any Error>
    ) {
        self.directory = directory
        self.engine = engine
        self.server = server
        self.host = host
        self.port = port
        self.authenticator = authenticator
        self.task = task
    }

    /// Stops the server, then the engine; the data stays for a restart. A listener that never
    /// returns from its cancellation stops the test process with a message saying so: awaited
    /// unbounded, it would hang the run silently past every time limit.
    public func stop() async {
        task.cancel()
        // Its own task, so that the test's cancellation (its time limit) cannot cut the wait
        // short and close the engine under a listener still serving.
        let stopped = Task { [task] in try await boundedResult(of: task, "the node's client listener returns after its cancellation") }
        if case .failure(let timedOut) = await stopped.result { fatalError("\(timedOut)") }
        engine.close()
    }

    /// Stops this node and starts another with the same app and authenticator on the same data.
    public func restart() async throws -> TestNode {
        await stop()
        return try await TestNode.start(app: engine.app, directory: directory, authenticator: authenticator)
    }
}

/// The server never reported the port it listens on.
public struct NodeDidNotStart: Error {}
