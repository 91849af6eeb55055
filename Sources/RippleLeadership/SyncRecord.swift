import Foundation

/// What the `/sync` key holds: the writer's sync set — the replicas that hold every commit it
/// acknowledged — so an election can keep every other node from leading (Patroni's `/sync`).
///
/// Only the leader writes it, in a transaction that compares its own leader key, so a writer
/// that was replaced cannot. A node may lead after this writer only if it is the writer itself
/// or a member; with `required` 0 (asynchronous replication) any node may.
public struct SyncRecord: Sendable, Equatable, EtcdJSONValue {
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
}

/// `/sync` as a candidate read it: the record its eligibility is judged on, and the revision
/// its campaign requires unchanged.
public struct SyncReading: Sendable, Equatable {
    /// Nil when no writer recorded a sync set (any node may lead).
    public var record: SyncRecord?
    /// `/sync`'s mod revision, 0 when absent.
    public var revision: Int64

    public init(record: SyncRecord?, revision: Int64) {
        self.record = record
        self.revision = revision
    }

    /// Whether `node` may be elected after the writer that recorded it.
    public func allowsPromotion(of node: String) -> Bool {
        record?.allowsPromotion(of: node) ?? true
    }
}

/// `/sync` holds a value that is no `SyncRecord` (written by hand, or by a newer version): no
/// candidate can tell who holds every acknowledged commit, so none stands.
public struct UnreadableSyncRecord: Error, Sendable, Equatable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var description: String { "\(key) holds no sync record (\(value)); no candidate stands until it is fixed or deleted" }
}

/// What a writer's write of its sync set came to, as far as etcd has answered.
public enum SyncWrite: Sendable, Equatable {
    /// `/sync` holds the record, written at `revision`.
    case recorded(revision: Int64)
    /// Nothing landed over the revision the write compared: it may be sent again.
    case notLanded
    /// Another write landed, or this writer no longer holds the leader key: the write is
    /// definitely refused.
    case refused

    /// Rule: `/sync` holding the record means it was recorded (by this write or an earlier
    /// unanswered one); `/sync` still at `revision` means nothing landed; anything else is a
    /// newer writer's record.
    public init(written record: SyncRecord, over revision: Int64, found: EtcdClient.KeyValue?) {
        if let found, SyncRecord(decoding: found.value) == record {
            self = .recorded(revision: found.modRevision)
        } else if (found?.modRevision ?? 0) == revision {
            self = .notLanded
        } else {
            self = .refused
        }
    }

    /// After etcd refused the transaction: nothing landed over the revision means the leader
    /// key compare failed.
    var refusingRetry: SyncWrite { self == .notLanded ? .refused : self }
}
