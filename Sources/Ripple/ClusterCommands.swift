import ArgumentParser
import Foundation
import Logging
import RippleAuth
import RippleEngine
import RippleReplication
import RippleScheduler
import RippleStorage
import RippleSync

/// Options every cluster node takes; each also comes from the environment.
struct NodeOptions: ParsableArguments {
    @Option(name: .long, help: "Directory for the database (env RIPPLE_DATA).")
    var data: String = ProcessInfo.processInfo.environment["RIPPLE_DATA"] ?? ".ripple"

    @Option(name: .long, help: "Address to serve clients on, host:port (env RIPPLE_LISTEN).")
    var listen: String = ProcessInfo.processInfo.environment["RIPPLE_LISTEN"] ?? "127.0.0.1:3210"

    @Option(name: .long, help: "This node's name in logs and status (env RIPPLE_NODE_ID).")
    var nodeID: String = ProcessInfo.processInfo.environment["RIPPLE_NODE_ID"] ?? ProcessInfo.processInfo.hostName

    @Option(name: .long, help: "Shared secret of the cluster (env RIPPLE_CLUSTER_SECRET).")
    var clusterSecret: String = ProcessInfo.processInfo.environment["RIPPLE_CLUSTER_SECRET"] ?? ""

    @Option(name: .long, help: "Cluster id; nodes of another cluster are refused (env RIPPLE_CLUSTER_ID).")
    var clusterID: String = ProcessInfo.processInfo.environment["RIPPLE_CLUSTER_ID"] ?? "ripple"

    func validate() throws {
        guard !clusterSecret.isEmpty else {
            throw ValidationError("--cluster-secret (or RIPPLE_CLUSTER_SECRET) is required for cluster nodes")
        }
        if let refusal = PlaceholderSecret.refusal(clusterSecret, setting: "--cluster-secret (RIPPLE_CLUSTER_SECRET)") {
            throw ValidationError(refusal)
        }
    }

    var databasePath: String {
        URL(fileURLWithPath: data).appendingPathComponent("ripple.sqlite3").path
    }

    func logger(_ role: String) -> Logger {
        var logger = Logger(label: "ripple.\(role)")
        logger.logLevel = .info
        logger[metadataKey: "node"] = "\(nodeID)"
        return logger
    }
}

/// How much commit log a node keeps (writer and replicas alike); each also comes from the environment.
struct LogRetentionOptions: ParsableArguments {
    @Option(name: .long, help: "Keep at least the newest N commits in the log (env RIPPLE_LOG_RETENTION_COMMITS).")
    var logRetentionCommits: Int = Int(ProcessInfo.processInfo.environment["RIPPLE_LOG_RETENTION_COMMITS"] ?? "") ?? 1_000_000

    @Option(name: .long, help: "Also prune commits older than this many seconds, unless a connected replica still needs them (env RIPPLE_LOG_RETENTION_SECONDS).")
    var logRetentionSeconds: Double? = Double(ProcessInfo.processInfo.environment["RIPPLE_LOG_RETENTION_SECONDS"] ?? "")

    @Option(name: .long, help: "Seconds between commit log pruning passes (env RIPPLE_LOG_PRUNE_INTERVAL).")
    var logPruneInterval: Double = Double(ProcessInfo.processInfo.environment["RIPPLE_LOG_PRUNE_INTERVAL"] ?? "") ?? 10

    var logRetention: LogRetention {
        LogRetention(commits: logRetentionCommits, seconds: logRetentionSeconds, interval: .milliseconds(Int(max(0.05, logPruneInterval) * 1000)))
    }
}

/// `writer`: runs every mutation, serves clients, and ships the commit log to replicas.
struct WriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "writer", abstract: "Run the cluster's writer.")

    @OptionGroup var node: NodeOptions

    @Option(name: .long, help: "Address replicas connect to, host:port (env RIPPLE_REPLICATION_LISTEN).")
    var replication: String = ProcessInfo.processInfo.environment["RIPPLE_REPLICATION_LISTEN"] ?? "127.0.0.1:7100"

    @OptionGroup var retention: LogRetentionOptions

    @OptionGroup var sync: SyncReplicationOptions

    @Option(name: .long, help: "Seconds a client mutation's result is kept for its resends, at least 300 (env RIPPLE_MUTATION_DEDUP_SECONDS).")
    var mutationDedupSeconds: Int = Int(ProcessInfo.processInfo.environment["RIPPLE_MUTATION_DEDUP_SECONDS"] ?? "") ?? 300

    func run() throws { throw ValidationError("writer needs an app; run it through RippleMain.run(app)") }

    /// - Parameter failover: the term and lease this writer holds when etcd elected it.
    func run(app: App, auth: AuthSettings, failover: FailoverRole? = nil) async throws {
        let logger = node.logger("writer")
        let (host, port) = try parseListen(node.listen)
        let (replicationHost, replicationPort) = try parseListen(replication)
        try FileManager.default.createDirectory(atPath: node.data, withIntermediateDirectories: true)
        let metricsText = nodeMetricsText()
        var options = EngineOptions()
        options.logger = logger
        options.dedup.retention = try dedupRetention(seconds: mutationDedupSeconds)
        options.executionLogCapacity = executionLogCapacity(default: options.executionLogCapacity)
        options.enableActionsToReachOut()
        options.commitGate = failover?.commitGate
        options.term = failover?.term ?? 0
        let syncReplication = try await startSyncReplication(failover: failover, logger: logger)
        if let syncReplication {
            options.commitAcknowledgement = { ts in await syncReplication.acknowledgement(of: ts) }
        }
        let engine = try Engine.open(path: node.databasePath, app: app, options: options)
        defer { engine.close() }
        let signalSources = cancelActionsOnShutdownSignals(engine)
        defer { signalSources.forEach { $0.cancel() } }
        let source = EngineCommitSource(engine: engine, sync: syncReplication)
        let pruner = LogPruner(
            path: node.databasePath, retention: retention.logRetention, protectedTimestamp: { source.oldestConnectedReplica() }, logger: logger)
        var replicationConfiguration = ReplicationServer.Configuration()
        replicationConfiguration.term = failover?.term ?? 0
        let replicationServer = ReplicationServer(
            host: replicationHost, port: replicationPort, clusterID: node.clusterID, secret: Array(node.clusterSecret.utf8),
            source: source, logger: logger, configuration: replicationConfiguration)
        var configuration = SyncServer.Configuration(host: host, port: port)
        configuration.role = "writer"
        configuration.limits = try SyncLimits(environment: ProcessInfo.processInfo.environment)
        configuration.metricsText = metricsText
        configuration.nodeID = node.nodeID
        configuration.replicationStatus = { await source.status() + (syncReplication?.status ?? []) + (failover?.status ?? []) }
        let server = try await SyncServer.make(
            engine: engine, authenticator: try makeAuthenticator(auth, logger: logger), configuration: configuration, logger: logger)
        let listener = server.listener { port in
            FileHandle.standardOutput.write(Data("Ripple writer listening on http://\(host):\(port), replication on \(replicationHost):\(replicationPort)\n".utf8))
        }
        // Under failover the election loop's lifecycle owns the signals and passes shutdown down.
        var lifecycle = NodeLifecycle(logger: logger, handlesSignals: failover == nil)
        lifecycle.add(.clients, "HTTP and sync server", service: listener)
        lifecycle.add(.mutations, "committer", stop: { engine.close() })
        if let failover {
            lifecycle.add(.leadership, "writer leadership", run: failover.watch)
            // A writer that stopped accepting writes keeps refusing them until it restarts: it
            // steps down so that another node leads.
            lifecycle.add(.leadership, "committer watch", run: { throw WriterStopped(term: failover.term, reason: try await engine.untilWritesStop()) })
        }
        lifecycle.add(.replication, "replication server", run: { try await replicationServer.run() })
        lifecycle.add(.pruner, "log pruner", run: { try await pruner.run() })
        try await lifecycle.run()
    }
}

extension WriterCommand {
    /// Synchronous replication, nil with `--sync-replicas 0`. Under failover the sync set is
    /// recorded in etcd (with 0, a record saying any node may be promoted); without etcd it is
    /// kept in memory, for the durability of acknowledged writes on a replica.
    fileprivate func startSyncReplication(failover: FailoverRole?, logger: Logger) async throws -> SyncReplication? {
        let recorder: SyncReplication.Recorder
        if let syncRecorder = failover?.syncRecorder {
            recorder = syncRecorder(sync.syncReplicas)
        } else {
            recorder = { @Sendable _ in .recorded }
        }
        guard sync.syncReplicas > 0 else {
            if case .failed(let reason) = await recorder([]) {
                logger.warning("could not record asynchronous replication in etcd", metadata: ["error": "\(reason)"])
            }
            return nil
        }
        // Opened before the engine: a replica must hold everything this writer holds to join
        // the sync set, since an earlier writer may have acknowledged any of it.
        let durable = try Store(database: Database(path: node.databasePath)).appliedTimestamp()
        return SyncReplication(required: sync.syncReplicas, durable: durable, timeout: sync.timeout, logger: logger, recorder: recorder)
    }
}

/// `replica`: applies the writer's log, serves queries and subscriptions, forwards mutations.
struct ReplicaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replica", abstract: "Run a read replica.")

    @OptionGroup var node: NodeOptions

    @Option(name: .long, help: "The writer's replication address, host:port (env RIPPLE_WRITER).")
    var writer: String = ProcessInfo.processInfo.environment["RIPPLE_WRITER"] ?? "127.0.0.1:7100"

    @OptionGroup var retention: LogRetentionOptions

    func run() throws { throw ValidationError("replica needs an app; run it through RippleMain.run(app)") }

    func run(app: App, auth: AuthSettings) async throws {
        try await ReplicaNode(node: node, writer: writer, role: "replica", retention: retention.logRetention).run(app: app, auth: auth)
    }
}

/// `scheduler`: a replica that also runs scheduled functions and crons while it holds the
/// scheduler lease.
struct SchedulerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler", abstract: "Run a replica that runs scheduled functions and crons.")

    @OptionGroup var node: NodeOptions

    @Option(name: .long, help: "The writer's replication address, host:port (env RIPPLE_WRITER).")
    var writer: String = ProcessInfo.processInfo.environment["RIPPLE_WRITER"] ?? "127.0.0.1:7100"

    @OptionGroup var retention: LogRetentionOptions

    @Option(name: .long, help: "Seconds a scheduler lease lasts; another scheduler takes over about this long after this one dies (env RIPPLE_SCHEDULER_LEASE_SECONDS).")
    var leaseSeconds: Double = Double(ProcessInfo.processInfo.environment["RIPPLE_SCHEDULER_LEASE_SECONDS"] ?? "") ?? 5

    func validate() throws {
        guard leaseSeconds >= 0.5, leaseSeconds <= 600 else { throw ValidationError("--lease-seconds must be between 0.5 and 600") }
    }

    func run() throws { throw ValidationError("scheduler needs an app; run it through RippleMain.run(app)") }

    func run(app: App, auth: AuthSettings) async throws {
        var scheduler = SchedulerService.Configuration(nodeID: node.nodeID)
        scheduler.leaseDuration = .milliseconds(Int64(leaseSeconds * 1000))
        try await ReplicaNode(node: node, writer: writer, role: "scheduler", retention: retention.logRetention, scheduler: scheduler)
            .run(app: app, auth: auth)
    }
}

/// What replicas and schedulers share: a replica engine following the writer, serving clients;
/// with a `scheduler` configuration, also the job runner.
struct ReplicaNode {
    let node: NodeOptions
    let writer: String
    let role: String
    let retention: LogRetention
    var scheduler: SchedulerService.Configuration?
    /// The term of the writer followed, and what ends this role when etcd names another.
    var failover: FailoverRole?

    /// Runs until the HTTP service or the replication link stops (the job runner with them).
    func run(app: App, auth: AuthSettings) async throws {
        let logger = node.logger(role)
        let (host, port) = try parseListen(node.listen)
        let (writerHost, writerPort) = try parseListen(writer)
        try FileManager.default.createDirectory(atPath: node.data, withIntermediateDirectories: true)
        let forwarder = LinkForwarder()
        var options = EngineOptions()
        options.logger = logger
        options.enableActionsToReachOut()
        options.role = .replica(forwarder: forwarder)
        options.executionLogCapacity = executionLogCapacity(default: options.executionLogCapacity)
        let metricsText = nodeMetricsText()
        let engine = try Engine.open(path: node.databasePath, app: app, options: options)
        defer { engine.close() }
        let signalSources = cancelActionsOnShutdownSignals(engine)
        defer { signalSources.forEach { $0.cancel() } }
        let pruner = LogPruner(path: node.databasePath, retention: retention, logger: logger)
        var linkConfiguration = ReplicationClient.Configuration()
        linkConfiguration.term = failover?.term ?? 0
        let client = ReplicationClient(
            writerHost: writerHost, writerPort: writerPort, clusterID: node.clusterID, nodeID: node.nodeID,
            secret: Array(node.clusterSecret.utf8), sink: EngineCommitSink(engine: engine), logger: logger,
            configuration: linkConfiguration)
        forwarder.attach(client)
        var configuration = SyncServer.Configuration(host: host, port: port)
        configuration.role = role
        configuration.limits = try SyncLimits(environment: ProcessInfo.processInfo.environment)
        configuration.latestKnownTimestamp = { max(client.writerLatestTimestamp, try await engine.appliedTimestamp()) }
        configuration.metricsText = metricsText
        configuration.nodeID = node.nodeID
        let jobRunner = scheduler.map { SchedulerService(engine: engine, configuration: $0, logger: logger) }
        configuration.replicationStatus = {
            let writerTs = await client.writerLatestTimestamp
            let applied = (try? await engine.appliedTimestamp()) ?? .zero
            var fields: [(String, JSON)] = [
                ("writer", .string("\(writerHost):\(writerPort)")), ("connected", .bool(await client.isConnected)),
                ("writerTs", .string(String(writerTs))), ("lagMs", .int(Int64(writerTs.duration(since: applied) / .milliseconds(1)))),
            ]
            fields.append(("logPrunedThrough", .string(String((try? await engine.logPrunedThrough()) ?? .zero))))
            if let jobRunner { fields.append(("scheduler", await jobRunner.status())) }
            return fields + (failover?.status ?? [])
        }
        let server = try await SyncServer.make(
            engine: engine, authenticator: try makeAuthenticator(auth, logger: logger), configuration: configuration, logger: logger)
        let role = self.role
        let listener = server.listener { port in
            FileHandle.standardOutput.write(
                Data("Ripple \(role) listening on http://\(host):\(port), following \(writerHost):\(writerPort)\n".utf8))
        }
        // Under failover the election loop's lifecycle owns the signals and passes shutdown down.
        var lifecycle = NodeLifecycle(logger: logger, handlesSignals: failover == nil)
        lifecycle.add(.clients, "HTTP and sync server", service: listener)
        if let jobRunner {
            // Its lease is handed back while the link to the writer is still up.
            lifecycle.add(.scheduler, "scheduler", run: { await jobRunner.run() }, stop: { await jobRunner.shutdown() })
        }
        if let failover {
            // A leader that changed answers no forwarded mutation any more (a paused one never
            // will): its callers hear at once that the outcome is unknown, instead of holding the
            // role's drain until the deadline.
            lifecycle.add(.leadership, "leader watch", run: failover.watch, stop: { await client.abandonForwards() })
        }
        lifecycle.add(.replication, "replication client", run: { try await client.run() })
        lifecycle.add(.pruner, "log pruner", run: { try await pruner.run() })
        lifecycle.add(.engine, "applier", stop: { engine.close() })
        try await lifecycle.run()
    }
}
