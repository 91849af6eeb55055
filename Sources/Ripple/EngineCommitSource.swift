import Foundation
import Logging
import RippleEngine
import RippleLog
import RippleReplication
import RippleSync
import RippleValues
import Synchronization

/// The writer's side of replication: the commit log and the engine, as the replication server
/// reads them, plus forwarded mutations and replica acknowledgements.
final class EngineCommitSource: CommitSource {
    let engine: Engine
    /// Each replica's last acknowledged applied timestamp, by node id.
    let acknowledged = Mutex<[String: CommitTimestamp]>([:])
    /// The sync set's bookkeeping, fed every link's events; nil with asynchronous replication.
    let sync: SyncReplication?

    init(engine: Engine, sync: SyncReplication? = nil) {
        self.engine = engine
        self.sync = sync
    }

    /// A connection on the live tail gets each durable group, as log entries, straight from the
    /// commit feed on the committer's thread.
    func followCommits(_ deliver: @escaping @Sendable ([Commit]) -> Void) -> (@Sendable () -> Void)? {
        let subscription = engine.commitFeed.subscribe { group in
            deliver(group.mutations.map { Commit(ts: $0.ts, term: $0.term, writes: $0.logWrites) })
        }
        return { subscription.cancel() }
    }

    func latestTimestamp() async throws -> CommitTimestamp { try await engine.appliedTimestamp() }

    func commits(after ts: CommitTimestamp, limit: Int) async throws -> [Commit] { try await engine.commits(after: ts, limit: limit) }

    func waitForCommit(after ts: CommitTimestamp) async {
        _ = await engine.waitUntilApplied(ts.next, timeout: .seconds(1))
    }

    func handleForward(_ payload: [UInt8]) async -> [UInt8] {
        guard let call = try? ForwardedCall(decoding: payload) else {
            return ForwardedOutcome.failed(FunctionError(.invalidUse, "Malformed forwarded mutation")).encoded
        }
        do throws(FunctionError) {
            let result = try await engine.mutation(call.path, call.args, identity: call.identity, caller: call.caller, request: call.request)
            return ForwardedOutcome.committed(result).encoded
        } catch {
            return ForwardedOutcome.failed(error).encoded
        }
    }

    func replicaAcknowledged(nodeID: String, appliedTimestamp: CommitTimestamp) {
        acknowledged.withLock { $0[nodeID] = appliedTimestamp }
        sync?.acknowledged(nodeID, through: appliedTimestamp)
    }

    /// Open links per replica node id; a connected replica holds back age-based pruning.
    let connected = Mutex<[String: Int]>([:])

    func replicaConnected(nodeID: String, at position: CommitTimestamp) {
        acknowledged.withLock { $0[nodeID] = position }
        connected.withLock { $0[nodeID, default: 0] += 1 }
        // Acks count only above the position it connected with (`SyncSet`).
        sync?.connected(nodeID, at: position)
    }

    func replicaDisconnected(nodeID: String) {
        connected.withLock { links in
            links[nodeID, default: 1] -= 1
            if links[nodeID]! <= 0 { links[nodeID] = nil }
        }
        sync?.disconnected(nodeID)
    }

    /// The oldest applied timestamp among connected replicas (nil when none is connected).
    func oldestConnectedReplica() -> CommitTimestamp? {
        let nodes = connected.withLock { Set($0.keys) }
        return acknowledged.withLock { acks in nodes.compactMap { acks[$0] }.min() }
    }

    func snapshot() async throws -> (ts: CommitTimestamp, bytes: [UInt8]) { try await engine.snapshot() }

    func holdsCommit(at ts: CommitTimestamp, term: UInt64) async throws -> Bool {
        try await engine.holdsCommit(at: ts, term: term)
    }

    /// `/health` fields: every replica's applied ts and lag in commits.
    func status() async -> [(String, JSON)] {
        var replicas: [(String, JSON)] = []
        for (node, ts) in acknowledged.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            let lag = (try? await engine.commitCount(after: ts)) ?? -1
            replicas.append((node, .object([("appliedTs", .string(String(ts))), ("lagCommits", .int(Int64(lag)))])))
        }
        let pruned = (try? await engine.logPrunedThrough()) ?? .zero
        return [("replicas", .object(replicas)), ("logPrunedThrough", .string(String(pruned)))]
    }
}
