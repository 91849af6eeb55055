import Foundation

/// What the `/sync` key holds: the writer's sync set — the replicas that hold every commit it
/// acknowledged — so an election can keep every other node from leading (Patroni's `/sync`).
///
/// Only the leader writes it, in a transaction that compares its own leader key, so a writer
/// that was replaced cannot. A node may lead after this writer only if it is the writer itself
/// or a member; with `required` 0 (asynchronous replication) any node may.
public struct SyncRecord: Sendable, Equatable, Codable {
    /// The writer that recorded the set.
    public var leader: String
    /// Its term.
    public var term: UInt64
    /// How many replicas the writer waits for (`--sync-replicas`).
    public var required: Int
    /// The replicas in sync.
    public var members: [String]

    public init(leader: String, term: UInt64, required: Int, members: [String]) {
        self.leader = leader
        self.term = term
        self.required = required
        self.members = members
    }

    /// Whether `node` holds every acknowledged commit, so it may be elected.
    public func allowsPromotion(of node: String) -> Bool {
        required == 0 || node == leader || members.contains(node)
    }

    /// The key's value: JSON, readable with `etcdctl get`.
    public var encoded: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// Reads a key's value; nil when it is not a sync record.
    public init?(decoding bytes: [UInt8]) {
        guard let record = try? JSONDecoder().decode(SyncRecord.self, from: Data(bytes)) else { return nil }
        self = record
    }
}
