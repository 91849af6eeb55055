import ArgumentParser
import Foundation
import Logging
import RippleEngine
import RippleLeadership
import RippleLog
import RippleScheduler
import RippleStorage
import RippleValues
import ServiceLifecycle

/// What a role (writer or replica) run under failover needs from the election: the term, the
/// fence on commits (writer), and a watch whose end — by returning or throwing — ends the role.
struct FailoverRole: Sendable {
    /// The term of the writer (this node, or the one followed).
    let term: UInt64
    /// The writer's check before each COMMIT: refuses once the lease may have expired.
    let commitGate: (@Sendable () -> FunctionError?)?
    /// Runs beside the role; the role ends when it does.
    let watch: @Sendable () async throws -> Void
    /// `/health` fields.
    let status: [(String, JSON)]
    /// How a writer records its sync set (given `--sync-replicas`); nil for a replica.
    var syncRecorder: (@Sendable (_ required: Int) -> SyncReplication.Recorder)? = nil
}

/// The leader named in etcd is not the one this replica follows any more (or none is).
struct LeaderChanged: Error, CustomStringConvertible {
    let followed: LeaderRecord
    let now: LeaderRecord?
    var description: String { "the leader of term \(followed.term) is gone; etcd now names \(now.map { "\($0.nodeID) (term \($0.term))" } ?? "nobody")" }
}

/// This writer's committer stopped accepting writes (a failed COMMIT): it steps down.
struct WriterStopped: Error, CustomStringConvertible {
    let term: UInt64
    let reason: FunctionError
    var description: String { "the writer of term \(term) stopped accepting writes: \(reason.message)" }
}

/// `node`: a cluster node whose role etcd decides. While another node leads it is a replica of
/// that leader; when the leader key expires it stands for election, and if it wins it becomes
/// the writer of the next term; when it cannot renew its lease it steps down and follows again.
struct FailoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run a cluster node that is writer or replica as etcd's election decides.")

    @OptionGroup var node: NodeOptions

    @Option(name: .long, help: "Address replicas connect to while this node leads, host:port (env RIPPLE_REPLICATION_LISTEN).")
    var replication: String = ProcessInfo.processInfo.environment["RIPPLE_REPLICATION_LISTEN"] ?? "127.0.0.1:7100"

    @Option(name: .long, help: "etcd's client URL (its v3 JSON gateway) (env RIPPLE_ETCD).")
    var etcd: String = ProcessInfo.processInfo.environment["RIPPLE_ETCD"] ?? "http://127.0.0.1:2379"

    @Option(name: .long, help: "Seconds of the leader's etcd lease; a dead writer is replaced about this long after it died (env RIPPLE_LEADER_LEASE_SECONDS).")
    var leaderLeaseSeconds: Int = Int(ProcessInfo.processInfo.environment["RIPPLE_LEADER_LEASE_SECONDS"] ?? "") ?? 2

    @Flag(name: .long, inversion: .prefixedNo, help: "Stand for election when no writer leads.")
    var candidate = true

    @Flag(name: .long, help: "Run scheduled functions and crons while following (a scheduler node never stands for election).")
    var scheduler = false

    @OptionGroup var retention: LogRetentionOptions

    @OptionGroup var sync: SyncReplicationOptions

    @Option(name: .long, help: "Seconds a client mutation's result is kept for its resends, at least 300 (env RIPPLE_MUTATION_DEDUP_SECONDS).")
    var mutationDedupSeconds: Int = Int(ProcessInfo.processInfo.environment["RIPPLE_MUTATION_DEDUP_SECONDS"] ?? "") ?? 300

    func validate() throws {
        guard (1...60).contains(leaderLeaseSeconds) else {
            throw ValidationError("--leader-lease-seconds (RIPPLE_LEADER_LEASE_SECONDS) must be between 1 and 60, got \(leaderLeaseSeconds)")
        }
        _ = try parseListen(replication)
    }

    func run() throws { throw ValidationError("node needs an app; run it through RippleMain.run(app)") }

    func run(app: App, auth: AuthSettings) async throws {
        var lifecycle = NodeLifecycle(logger: node.logger("node"))
        lifecycle.add(.election, "election loop", service: FailoverElection(command: self, app: app, auth: auth))
        try await lifecycle.run()
    }
}

/// The election loop of one `node` process, as the Service its lifecycle runs: each pass reads
/// the leader from etcd and runs the matching role until the leadership changes. On graceful
/// shutdown it stops looking and standing (a pause in progress ends at once), and the role it
/// runs, whose lifecycle inherits the shutdown, goes through its own steps.
struct FailoverElection: Service {
    let command: FailoverCommand
    let app: App
    let auth: AuthSettings

    func run() async throws {
        let app = self.app
        let auth = self.auth
        let node = command.node
        let logger = node.logger("node")
        try FileManager.default.createDirectory(atPath: node.data, withIntermediateDirectories: true)
        let leadership = Leadership(
            etcd: EtcdClient(baseURL: command.etcd), clusterID: node.clusterID, nodeID: node.nodeID,
            ttlSeconds: Int64(command.leaderLeaseSeconds), logger: logger)
        // Followers look at etcd as often as the leader renews, so they notice an expired lease
        // within a third of a TTL.
        let lookInterval = StepDownRule(ttl: .seconds(command.leaderLeaseSeconds)).renewalInterval
        var fence = TermFence()
        let mayStand = command.candidate && !command.scheduler
        // A writer that just stepped down (`scripts/cluster failover`, a lost lease) lets the
        // others stand first for two TTLs; it may still win after that if nobody else can.
        var standNotBefore = ContinuousClock.now
        var registered = false
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            let leader: LeaderRecord?
            do {
                if !registered {
                    // Before following anyone: a writer must know not to make this node a sync
                    // replica when it will never take over.
                    try await leadership.register(standing: mayStand)
                    registered = true
                }
                leader = try await leadership.leader()
            } catch {
                logger.warning("etcd is unreachable; no election until it answers", metadata: ["error": "\(error)"])
                try await pause(lookInterval)
                continue
            }
            if let leader, leader.nodeID != node.nodeID {
                guard fence.admit(leader.term) else {
                    logger.error("etcd names a leader of an older term than one already followed", metadata: ["term": "\(leader.term)"])
                    try await pause(lookInterval)
                    continue
                }
                if try await runRole(logger: logger, { try await follow(leader, leadership: leadership, every: lookInterval, app: app, auth: auth) }) {
                    return
                }
                continue
            }
            // A leader key naming this node belongs to an earlier run of it: wait for it to expire.
            guard leader == nil, mayStand, ContinuousClock.now >= standNotBefore else {
                try await pause(lookInterval)
                continue
            }
            // Ranked by the durable position (the term of the newest commit held, then its ts), not
            // by the newest term merely seen: a follower of a writer that committed nothing to it
            // holds no more than one that did not follow it.
            let durable = try durablePosition()
            let position = CandidatePosition(nodeID: node.nodeID, durableTimestamp: durable.ts, term: durable.term)
            do {
                try await leadership.announce(position)
                // Give the other candidates one look interval to announce theirs.
                try await pause(lookInterval)
                let candidates = try await leadership.candidates()
                // Only the last writer and its sync replicas hold every acknowledged commit.
                let sync: SyncReading
                do {
                    sync = try await leadership.syncRecord()
                } catch let unreadable as UnreadableSyncRecord {
                    logger.error("not standing: the last writer's sync set cannot be read", metadata: ["error": "\(unreadable)"])
                    try await pause(lookInterval)
                    continue
                }
                guard sync.allowsPromotion(of: node.nodeID) else {
                    logger.info("not standing: not in the last writer's sync set", metadata: ["sync": "\(sync.record.map { String(decoding: $0.encoded, as: UTF8.self) } ?? "")"])
                    try await pause(lookInterval)
                    continue
                }
                guard Election.winner(among: candidates, eligible: sync.allowsPromotion(of:))?.nodeID == node.nodeID else { continue }
                // The campaign holds only if `/sync` is still the one just judged.
                guard let won = try await leadership.campaign(
                    clientAddress: node.listen, replicationAddress: command.replication, syncRevision: sync.revision,
                    appliedTerm: durable.term)
                else { continue }
                _ = fence.admit(won.record.term)
                let role = FailoverRole(
                    term: won.record.term,
                    commitGate: {
                        leadership.admitCommit()
                            ? nil
                            : FunctionError(.unavailable, "This node is no longer the writer (its leadership lease lapsed); retry the mutation on the new writer")
                    },
                    watch: { try await leadership.hold(term: won.record.term, lease: won.lease, ttl: won.ttl) },
                    status: Self.status(role: "writer", leader: won.record),
                    syncRecorder: { required in
                        SyncKeyWriter(leadership, leader: won.record, required: required, syncRevision: sync.revision, logger: logger).record
                    })
                if try await runRole(logger: logger, { try await lead(role, app: app, auth: auth) }) { return }
                standNotBefore = ContinuousClock.now.advanced(by: .seconds(2 * command.leaderLeaseSeconds))
            } catch let error as EtcdClient.Failure {
                logger.warning("election attempt failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Waits `duration`; throws `CancellationError` at once when the node shuts down (the
    /// election loop's lifecycle takes it for the end of the shutdown, not a failure).
    private func pause(_ duration: Duration) async throws {
        try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }

    /// Runs one role; returns true when the node should stop (the role ended by itself, e.g. on
    /// SIGTERM), false when leadership changed and the loop should look again.
    private func runRole(logger: Logger, _ role: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        do {
            try await role()
            return true
        } catch let lost as Leadership.LeadershipLost {
            logger.warning("stepping down", metadata: ["reason": "\(lost)"])
        } catch let stopped as WriterStopped {
            logger.error("stepping down", metadata: ["reason": "\(stopped)"])
        } catch let changed as LeaderChanged {
            logger.info("leader changed", metadata: ["change": "\(changed)"])
        } catch is CancellationError {
            return true
        } catch {
            // A role that failed to start (a port still held, say) is retried after a pause.
            logger.error("role failed", metadata: ["error": "\(error)"])
            try await pause(.milliseconds(500))
        }
        return false
    }

    private func lead(_ role: FailoverRole, app: App, auth: AuthSettings) async throws {
        var writer = WriterCommand()
        writer.node = command.node
        writer.replication = command.replication
        writer.retention = command.retention
        writer.sync = command.sync
        writer.mutationDedupSeconds = command.mutationDedupSeconds
        try await writer.run(app: app, auth: auth, failover: role)
    }

    private func follow(_ leader: LeaderRecord, leadership: Leadership, every interval: Duration, app: App, auth: AuthSettings) async throws {
        let role = FailoverRole(
            term: leader.term, commitGate: nil,
            watch: {
                while true {
                    try await Task.sleep(for: interval)
                    let now: LeaderRecord?
                    do {
                        now = try await leadership.leader()
                    } catch {
                        // While etcd is unreachable the replica goes on following: reads go on.
                        continue
                    }
                    if now != leader { throw LeaderChanged(followed: leader, now: now) }
                }
            },
            status: Self.status(role: command.scheduler ? "scheduler" : "replica", leader: leader))
        var scheduler: SchedulerService.Configuration?
        if command.scheduler { scheduler = SchedulerService.Configuration(nodeID: command.node.nodeID) }
        try await ReplicaNode(
            node: command.node, writer: leader.replicationAddress, role: command.scheduler ? "scheduler" : "replica",
            retention: command.retention.logRetention, scheduler: scheduler, failover: role
        ).run(app: app, auth: auth)
    }

    /// The newest commit this node holds durably and its term, read from its database between roles.
    private func durablePosition() throws -> (ts: CommitTimestamp, term: UInt64) {
        let store = try Store(database: Database(path: command.node.databasePath))
        return (try store.appliedTimestamp(), try store.appliedTerm())
    }

    private static func status(role: String, leader: LeaderRecord) -> [(String, JSON)] {
        [("leadership", .object([
            ("role", .string(role)), ("term", .string(String(leader.term))), ("leader", .string(leader.nodeID)),
            ("leaderClientAddress", .string(leader.clientAddress)),
        ]))]
    }
}
