import ArgumentParser
import Foundation
import Logging
import RippleEngine
import RippleLeadership
import RippleReplication
import Synchronization

/// Synchronous replication on the writer: owns the `SyncSet`, feeds it the replication links'
/// events, records its changes, and holds each mutation's answer until the sync set has the
/// commit (`EngineOptions.commitAcknowledgement`).
///
/// Waiting is a `Watermark` on `SyncSet.synced`, moved by the replicas' acks; a wait that
/// outlasts `timeout` fails with "no replica in sync". A change of the set is recorded by
/// `recorder` (etcd's `/sync` under failover; nothing to do without etcd, where no election
/// reads it) before it takes effect; a failed recording is proposed again on the next event
/// (an ack comes at least once per heartbeat), so nothing polls.
final class SyncReplication: Sendable {
    /// What recording a proposed sync set came to.
    enum RecordOutcome: Sendable {
        case recorded
        /// These nodes may never join (they do not stand for election).
        case ineligible(Set<String>)
        case failed(String)
    }

    typealias Recorder = @Sendable ([String]) async -> RecordOutcome

    private let state: Mutex<SyncSet>
    private let synced: Watermark
    private let recorder: Recorder
    /// How long a mutation waits for the sync set before failing.
    let timeout: Duration
    private let logger: Logger

    init(required: Int, durable: UInt64, timeout: Duration, logger: Logger, recorder: @escaping Recorder) {
        self.state = Mutex(SyncSet(required: required, durable: durable))
        self.synced = Watermark(durable)
        self.timeout = timeout
        self.logger = logger
        self.recorder = recorder
    }

    func connected(_ node: String, at position: UInt64) {
        apply { $0.connected(node, at: position, now: .now) }
    }

    func disconnected(_ node: String) {
        apply { $0.disconnected(node, now: .now) }
    }

    func acknowledged(_ node: String, through ts: UInt64) {
        apply { $0.acknowledged(node, through: ts, now: .now) }
    }

    /// Waits until every member of the sync set holds the commit at `ts`; the error to answer
    /// with when that takes longer than `timeout`.
    func acknowledgement(of ts: UInt64) async -> FunctionError? {
        if await synced.wait(until: ts, timeout: timeout) { return nil }
        let reason = state.withLock { $0.waitingReason(for: ts) }
        return FunctionError(
            .unavailable,
            "no replica in sync: commit \(ts) is durable on the writer, but \(reason) within \(timeout) (--sync-timeout-seconds); "
                + "the mutation may or may not survive a failover. Resending the same request (same session and request id) is deduplicated.")
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

extension SyncReplication {
    /// The recorder of a failover writer: skips observers, then writes `/sync` only while
    /// `leader` still holds the leader key.
    static func etcdRecorder(_ leadership: Leadership, leader: LeaderRecord, required: Int) -> Recorder {
        { proposal in
            do {
                let observers = try await leadership.observers().intersection(proposal)
                guard observers.isEmpty else { return .ineligible(observers) }
                let record = SyncRecord(leader: leader.nodeID, term: leader.term, required: required, members: proposal)
                return try await leadership.recordSync(record, as: leader) ? .recorded : .failed("this node no longer holds the leader key")
            } catch {
                return .failed("\(error)")
            }
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
