import RippleLog

/// A replica's claim to become the writer, published in etcd while the leader key is absent.
public struct CandidatePosition: Sendable, Equatable, Codable {
    /// The candidate's node id.
    public var nodeID: String
    /// The newest commit the candidate holds durably.
    public var durableTimestamp: CommitTimestamp
    /// The term of the newest commit it holds durably (`Store.appliedTerm`).
    public var term: UInt64

    public init(nodeID: String, durableTimestamp: CommitTimestamp, term: UInt64) {
        self.nodeID = nodeID
        self.durableTimestamp = durableTimestamp
        self.term = term
    }
}

/// Who should win an election, as one pure rule.
///
/// Rule: only eligible candidates count (with synchronous replication, those in the last
/// writer's in-sync set; a replica that was not in sync may lack acknowledged commits). Among
/// them, the newest term of a commit held wins, then the highest durable commit timestamp — the one
/// that lost the fewest commits —, then the smallest node id, so every candidate reading the
/// same positions agrees. A candidate campaigns only if it is that winner; the campaign itself
/// is an etcd transaction on the term, so even candidates that disagree (one read stale
/// positions) can never both win one term.
public enum Election {
    /// The candidate that should lead, or nil when none is eligible.
    public static func winner(among candidates: [CandidatePosition], eligible: (String) -> Bool) -> CandidatePosition? {
        candidates.filter { eligible($0.nodeID) }.max { lhs, rhs in
            if lhs.term != rhs.term { return lhs.term < rhs.term }
            if lhs.durableTimestamp != rhs.durableTimestamp { return lhs.durableTimestamp < rhs.durableTimestamp }
            return lhs.nodeID > rhs.nodeID
        }
    }
}

/// Refuses anything from a term older than the newest one seen (fencing): a writer that was
/// replaced — paused, partitioned — may still send frames or answer forwards, and none of it
/// may be taken for the new writer's.
public struct TermFence: Sendable, Equatable {
    /// The newest term seen (in etcd, or on an accepted link).
    public private(set) var newestTerm: UInt64

    public init(newestTerm: UInt64 = 0) { self.newestTerm = newestTerm }

    /// Whether something stamped with `term` may be accepted; a newer term is remembered.
    public mutating func admit(_ term: UInt64) -> Bool {
        guard term >= newestTerm else { return false }
        newestTerm = term
        return true
    }
}
