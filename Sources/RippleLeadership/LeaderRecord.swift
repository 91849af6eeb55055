import Foundation

/// What the leader key in etcd holds: who writes now, where clients and replicas reach it, and
/// the term it was elected in. The key is bound to the writer's lease, so it disappears when the
/// writer stops renewing — that disappearance is what starts an election.
public struct LeaderRecord: Sendable, Equatable, Codable {
    /// The writer's node id.
    public var nodeID: String
    /// Where clients reach the writer (host:port).
    public var clientAddress: String
    /// Where replicas connect for the commit log (host:port).
    public var replicationAddress: String
    /// Grows by one with every election; frames and forwards of an older term are refused.
    public var term: UInt64

    public init(nodeID: String, clientAddress: String, replicationAddress: String, term: UInt64) {
        self.nodeID = nodeID
        self.clientAddress = clientAddress
        self.replicationAddress = replicationAddress
        self.term = term
    }

    /// The key's value: JSON, readable with `etcdctl get`.
    public var encoded: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// Reads a key's value; nil when it is not a leader record (a foreign or damaged key).
    public init?(decoding bytes: [UInt8]) {
        guard let record = try? JSONDecoder().decode(LeaderRecord.self, from: Data(bytes)) else { return nil }
        self = record
    }
}

/// Where a cluster's leadership state lives in etcd, under one prefix per cluster id, so several
/// clusters can share one etcd.
public struct LeadershipKeys: Sendable, Equatable {
    /// `/ripple/<cluster>/`
    public let prefix: String

    public init(clusterID: String) { prefix = "/ripple/\(clusterID)/" }

    /// The lease-bound `LeaderRecord` of the current writer.
    public var leader: String { prefix + "leader" }
    /// The last term handed out, as decimal text; only ever grows (the campaign's transaction
    /// compares it).
    public var term: String { prefix + "term" }
    /// A node's published candidacy (`CandidatePosition`), bound to that node's own lease.
    public func candidate(_ nodeID: String) -> String { prefix + "candidates/" + nodeID }
    /// The prefix of every candidacy.
    public var candidates: String { prefix + "candidates/" }
    /// The writer's `SyncRecord`; not bound to a lease, so it outlives the writer.
    public var sync: String { prefix + "sync" }
    /// A node that never stands for election (a scheduler) says so here, so no writer makes it
    /// a sync replica that could not take over.
    public func observer(_ nodeID: String) -> String { prefix + "observers/" + nodeID }
    /// The prefix of every observer.
    public var observers: String { prefix + "observers/" }
}
