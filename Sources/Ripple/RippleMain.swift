import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import RippleAuth
import RippleEngine
import RippleFetch
import RippleScheduler
import RippleSync

/// Who may sign in: Convex's `auth.config` — providers by issuer `domain` and `applicationID`
/// (the JWT audience). A provider whose domain is not set (e.g. an unset environment variable)
/// is left out with a warning, so a dev node starts without an identity provider.
public struct AuthSettings: Sendable {
    public struct Provider: Sendable {
        public let domain: String?
        public let applicationID: String

        public init(domain: String?, applicationID: String) {
            self.domain = domain
            self.applicationID = applicationID
        }
    }

    public var providers: [Provider]

    public init(providers: [Provider] = []) { self.providers = providers }
}

/// The command line of a Ripple app executable (`chat dev`, later `chat writer|replica|scheduler`).
public enum RippleMain {
    /// Parses the process arguments and runs the chosen role with `app`.
    public static func run(_ app: App, auth: AuthSettings = AuthSettings()) async {
        do {
            var command = try RippleCommand.parseAsRoot()
            if let dev = command as? DevCommand {
                try await dev.run(app: app, auth: auth)
            } else if let writer = command as? WriterCommand {
                try await writer.run(app: app, auth: auth)
            } else if let replica = command as? ReplicaCommand {
                try await replica.run(app: app, auth: auth)
            } else if let scheduler = command as? SchedulerCommand {
                try await scheduler.run(app: app, auth: auth)
            } else if let node = command as? FailoverCommand {
                try await node.run(app: app, auth: auth)
            } else {
                try command.run()
            }
        } catch {
            RippleCommand.exit(withError: error)
        }
    }
}

struct RippleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "ripple",
        abstract: "A Ripple node: a reactive backend that the Convex clients talk to.",
        subcommands: [DevCommand.self, WriterCommand.self, ReplicaCommand.self, SchedulerCommand.self, FailoverCommand.self]
    )
}

/// `dev`: every role in one process on one SQLite file, for development and tests.
struct DevCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Run a single-node development server.")

    @Option(name: .long, help: "Directory for the database (env RIPPLE_DATA).")
    var data: String = ProcessInfo.processInfo.environment["RIPPLE_DATA"] ?? ".ripple"

    @Option(name: .long, help: "Address to serve clients on, host:port (env RIPPLE_LISTEN).")
    var listen: String = ProcessInfo.processInfo.environment["RIPPLE_LISTEN"] ?? "127.0.0.1:3210"

    @Option(name: .long, help: "Seconds a client mutation's result is kept for its resends, at least 300 (env RIPPLE_MUTATION_DEDUP_SECONDS).")
    var mutationDedupSeconds: Int = Int(ProcessInfo.processInfo.environment["RIPPLE_MUTATION_DEDUP_SECONDS"] ?? "") ?? 300

    func run() throws {
        throw ValidationError("dev needs an app; run it through RippleMain.run(app)")
    }

    func run(app: App, auth: AuthSettings) async throws {
        var logger = Logger(label: "ripple.dev")
        logger.logLevel = .info
        let (host, port) = try parseListen(listen)
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let path = URL(fileURLWithPath: data).appendingPathComponent("ripple.sqlite3").path
        var options = EngineOptions()
        options.logger = logger
        options.dedup.retention = try dedupRetention(seconds: mutationDedupSeconds)
        options.executionLogCapacity = executionLogCapacity(default: options.executionLogCapacity)
        options.enableActionsToReachOut()
        let metricsText = nodeMetricsText()
        let engine = try Engine.open(path: path, app: app, options: options)
        defer { engine.close() }
        let signalSources = cancelActionsOnShutdownSignals(engine)
        defer { signalSources.forEach { $0.cancel() } }
        let authenticator = try makeAuthenticator(auth, logger: logger)
        // The dev node is its own scheduler: same job runner, same lease, on the writer's engine.
        let scheduler = SchedulerService(engine: engine, configuration: .init(nodeID: "dev"), logger: logger)
        var configuration = SyncServer.Configuration(host: host, port: port)
        configuration.limits = try SyncLimits(environment: ProcessInfo.processInfo.environment)
        configuration.metricsText = metricsText
        configuration.replicationStatus = { [("scheduler", await scheduler.status())] }
        let server = try await SyncServer.make(engine: engine, authenticator: authenticator, configuration: configuration, logger: logger)
        logger.info("engine open on \(path) with \(app.functions.functions.count) functions")
        let listener = server.listener { port in
            FileHandle.standardOutput.write(Data("Ripple dev node listening on http://\(host):\(port) (database \(path))\n".utf8))
        }
        var lifecycle = NodeLifecycle(logger: logger)
        lifecycle.add(.clients, "HTTP and sync server", service: listener)
        lifecycle.add(.scheduler, "scheduler", run: { await scheduler.run() }, stop: { await scheduler.shutdown() })
        lifecycle.add(.mutations, "committer", stop: { engine.close() })
        try await lifecycle.run()
        logger.info("Ripple dev node stopped")
    }
}

/// `RIPPLE_EXECUTION_LOG_ENTRIES`: function executions a node keeps for the dashboard's log view.
func executionLogCapacity(default fallback: Int) -> Int {
    guard let text = ProcessInfo.processInfo.environment["RIPPLE_EXECUTION_LOG_ENTRIES"], let entries = Int(text), entries > 0 else { return fallback }
    return entries
}

/// The process's Prometheus registry, bootstrapped as the swift-metrics backend once; `/metrics`
/// serves it.
let prometheusRegistry: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}()

/// The process's outbound HTTP client, shared by every action of the node (one connection pool).
let sharedFetcher = HTTPClientFetcher()

extension EngineOptions {
    /// Gives actions `ctx.fetch` (the shared client) and `ctx.env` (this process's environment
    /// without the node's own `RIPPLE_*` settings).
    mutating func enableActionsToReachOut() {
        fetcher = sharedFetcher
        environment = .process(ProcessInfo.processInfo.environment)
    }
}

/// Cancels the engine's actions as soon as SIGTERM or SIGINT arrives. The HTTP service's graceful
/// shutdown (which owns those signals) waits for requests in flight, and an action can stream
/// for minutes; cancelled, it finishes its message as interrupted and the request ends. The
/// returned sources must stay alive as long as the node runs.
func cancelActionsOnShutdownSignals(_ engine: Engine) -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { signal in
        let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
        source.setEventHandler { engine.cancelActions() }
        source.resume()
        return source
    }
}

/// `/metrics` text for a node; touching it bootstraps the metrics backend.
func nodeMetricsText() -> @Sendable () -> String {
    let registry = prometheusRegistry
    return { registry.emitToString() }
}

/// The dedup retention from `--mutation-dedup-seconds`: shorter than five minutes would forget a
/// result while a client may still be reconnecting to resend it.
func dedupRetention(seconds: Int) throws -> Duration {
    guard seconds >= 300 else {
        throw ValidationError("--mutation-dedup-seconds (RIPPLE_MUTATION_DEDUP_SECONDS) must be at least 300, got \(seconds)")
    }
    return .seconds(seconds)
}

/// Splits `host:port`; the error says what was expected.
func parseListen(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("--listen must be host:port, e.g. 127.0.0.1:3210 (got \"\(text)\")")
    }
    return (String(text[..<colon]), port)
}

/// Keys for offline use instead of OIDC discovery: a JWKS in `RIPPLE_JWKS` (JSON) or in the file
/// named by `RIPPLE_JWKS_FILE`.
func offlineKeys() throws -> KeySource? {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["RIPPLE_JWKS_FILE"], !path.isEmpty { return try KeySource.jwksFile(path) }
    if let json = environment["RIPPLE_JWKS"], !json.isEmpty { return try KeySource.jwksEnvironment("RIPPLE_JWKS") }
    return nil
}

/// The authenticator for the app's providers, with the admin key from `RIPPLE_ADMIN_KEY`.
func makeAuthenticator(_ settings: AuthSettings, logger: Logger) throws -> Authenticator {
    var providers: [AuthProvider] = []
    for provider in settings.providers {
        guard let domain = provider.domain, !domain.isEmpty else {
            logger.warning("auth provider for \(provider.applicationID) has no domain set; user tokens will be refused")
            continue
        }
        providers.append(AuthProvider(domain: domain, applicationID: provider.applicationID, keys: try offlineKeys() ?? .discovery))
    }
    return try Authenticator(config: AuthConfig(providers: providers, adminKey: AuthConfig.adminKey()), logger: logger)
}

