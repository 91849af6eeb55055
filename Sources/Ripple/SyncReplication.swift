import ArgumentParser
import Foundation
import Logging
import RippleEngine
import RippleLeadership
import RippleLog
import RippleReplication
import Synchronization

/// Synchronous replication on the writer: owns the `SyncSet`, feeds it the replication links'
/// events, records its changes, and holds each mutation's answer until the sync set has the
/// commit (`EngineOptions.commitAcknowledgement`).
///
/// Waiting is a `Watermark` on `SyncSet.synced`, moved by the replicas' acks; a wait that
/// outlasts `timeout` fails with "no replica in sync". A change of the set is recorded by
/// `recorder` (etcd's `/sync` under failover, `SyncKeyWriter`; nothing to do without etcd, where
/// no election reads it) before it takes effect; a recording definitely refused is proposed
/// again on the next event (an ack comes at least once per heartbeat), so nothing polls.
final class SyncReplication: Sendable {
    /// What recording a proposed sync set came to. A recorder answers only once it knows: an
    /// unknown outcome taken for a failure would let the writer keep S while etcd names S'.
    enum RecordOutcome: Sendable {
        case recorded
        /// These nodes may never join (they do not stand for election).
        case ineligible(Set<String>)
        /// Definitely not recorded (`reason`); proposed again on the next event.
        case failed(String)
    }

    typealias Recorder = @Sendable ([String]) async -> RecordOutcome

    private let state: Mutex<SyncSet>
    private let synced: Watermark
    private let recorder: Recorder
    /// How long a mutation waits for the sync set before failing.
    let timeout: Duration
    private let logger: Logger

    init(required: Int, durable: CommitTimestamp, timeout: Duration, logger: Logger, recorder: @escaping Recorder) {
        self.state = Mutex(SyncSet(required: required, durable: durable))
        self.synced = Watermark(durable)
        self.timeout = timeout
        self.logger = logger
        self.recorder = recorder
    }

    func connected(_ node: String, at position: CommitTimestamp) {
        apply { $0.connected(node, at: position, now: .now) }
    }

    func disconnected(_ node: String) {
        apply { $0.disconnected(node, now: .now) }
    }

    func acknowledged(_ node: String, through ts: CommitTimestamp) {
        apply { $0.acknowledged(node, through: ts, now: .now) }
    }

    /// Waits until every member of the sync set holds the commit at `ts`; the error to answer
    /// with when that takes longer than `timeout`.
    func acknowledgement(of ts: CommitTimestamp) async -> FunctionError? {
        if await synced.wait(until: ts, timeout: timeout) { return nil }
        let reason = state.withLock { $0.waitingReason(for: ts) }
        return FunctionError.unknownOutcome(.notReplicated(ts: ts, reason: reason, timeout: timeout))
    }

    /// `/health` fields.
    var status: [(String, JSON)] {
        let set = state.withLock { $0 }
        return [("syncReplication", .object([
            ("required", .int(Int64(set.required))), ("members", .array(set.members.map { .string($0) })),
            ("syncedTs", .string(String(set.synced))),
        ]))]
    }

    private func apply(_ event: (inout SyncSet) -> SyncSet.Action?) {
        let (action, reached) = state.withLock { set in (event(&set), set.synced) }
        synced.advance(to: reached)
        if case .record(let proposal)? = action {
            Task { await record(proposal) }
        }
    }

    private func record(_ proposal: [String]) async {
        switch await recorder(proposal) {
        case .recorded:
            logger.info("sync set recorded", metadata: ["members": "\(proposal.joined(separator: ","))"])
            apply { $0.recorded(proposal, now: .now) }
        case .ineligible(let nodes):
            logger.info("not a sync replica: never stands for election", metadata: ["nodes": "\(nodes.sorted().joined(separator: ","))"])
            apply { $0.recordFailed(excluding: nodes, now: .now) }
        case .failed(let reason):
            logger.warning("could not record the sync set", metadata: ["members": "\(proposal.joined(separator: ","))", "error": "\(reason)"])
            apply { $0.recordFailed(now: .now) }
        }
    }
}

/// Writes a failover writer's sync set to `/sync`: skips observers, writes only while `leader`
/// holds the leader key and `/sync` is at the revision this writer last saw or wrote, and
/// resolves a write whose answer was lost by reading `/sync` back until etcd answers — until
/// then the proposal stays pending, so both the old and the proposed set must acknowledge.
final class SyncKeyWriter: Sendable {
    private let leadership: Leadership
    private let leader: LeaderRecord
    private let required: Int
    /// `/sync`'s revision as this writer last saw or wrote it: at first the one its campaign
    /// found unchanged.
    private let revision: Mutex<Int64>
    private let logger: Logger
    /// The longest pause between two read-backs while etcd does not answer.
    static let longestPause = Duration.seconds(2)

    init(_ leadership: Leadership, leader: LeaderRecord, required: Int, syncRevision: Int64, logger: Logger) {
        self.leadership = leadership
        self.leader = leader
        self.required = required
        self.revision = Mutex(syncRevision)
        self.logger = logger
    }

    func record(_ proposal: [String]) async -> SyncReplication.RecordOutcome {
        do {
            let observers = try await leadership.observers().intersection(proposal)
            guard observers.isEmpty else { return .ineligible(observers) }
        } catch {
            return .failed("\(error)")
        }
        let record = SyncRecord(leader: leader.nodeID, term: leader.term, required: required, members: proposal)
        let over = revision.withLock { $0 }
        while true {
            let written: SyncWrite
            do {
                written = try await leadership.recordSync(record, as: leader, over: over)
            } catch {
                logger.warning("the sync set's write went unanswered; reading it back", metadata: ["members": "\(proposal.joined(separator: ","))", "error": "\(error)"])
                written = await readBack(record, over: over)
            }
            switch written {
            case .recorded(let at):
                revision.withLock { $0 = at }
                return .recorded
            case .refused:
                return .failed("this node no longer holds the leader key")
            case .notLanded:
                continue
            }
        }
    }

    /// Reads `/sync` with a growing pause until etcd answers.
    private func readBack(_ record: SyncRecord, over revision: Int64) async -> SyncWrite {
        var pause = Duration.milliseconds(100)
        while true {
            try? await Task.sleep(for: pause)
            if let written = try? await leadership.resolveSync(record, over: revision) { return written }
            pause = min(pause * 2, Self.longestPause)
        }
    }
}

/// `--sync-replicas` and its timeout, taken by `writer` and `node`; each also comes from the
/// environment.
struct SyncReplicationOptions: ParsableArguments {
    @Option(name: .long, help: "Replicas that must hold a commit durably before its mutation is acknowledged; 0 replicates asynchronously (env RIPPLE_SYNC_REPLICAS).")
    var syncReplicas: Int = Int(ProcessInfo.processInfo.environment["RIPPLE_SYNC_REPLICAS"] ?? "") ?? 0

    @Option(name: .long, help: "Seconds a mutation waits for its sync replicas before failing with \"no replica in sync\" (env RIPPLE_SYNC_TIMEOUT_SECONDS).")
    var syncTimeoutSeconds: Double = Double(ProcessInfo.processInfo.environment["RIPPLE_SYNC_TIMEOUT_SECONDS"] ?? "") ?? 10

    func validate() throws {
        guard (0...16).contains(syncReplicas) else {
            throw ValidationError("--sync-replicas (RIPPLE_SYNC_REPLICAS) must be between 0 and 16, got \(syncReplicas)")
        }
        guard syncTimeoutSeconds > 0, syncTimeoutSeconds <= 3600 else {
            throw ValidationError("--sync-timeout-seconds (RIPPLE_SYNC_TIMEOUT_SECONDS) must be above 0 and at most 3600, got \(syncTimeoutSeconds)")
        }
    }

    var timeout: Duration { .milliseconds(Int(syncTimeoutSeconds * 1000)) }
}
