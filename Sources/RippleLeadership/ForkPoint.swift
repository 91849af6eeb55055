/// Where a node's commit log leaves the current writer's, when a node (an old writer above all)
/// joins the writer as a replica.
///
/// An old writer's log may end in commits that no one acknowledged (durable on it alone, never
/// in sync). Rule: walking the node's log from its newest commit down, the fork point is the
/// newest commit the writer holds too; everything above it is the divergent tail to discard.
/// When none is found (the writer pruned that far, or the node sent too little of its log), the
/// logs cannot be reconciled and the node bootstraps from a snapshot.
///
/// Commits are compared by timestamp. Two writers' timestamps could only coincide if the new
/// writer's clock produced, to the nanosecond, a timestamp the old one had used after the
/// commit they share — and the comparison runs on the newest ones, where that is least likely.
public enum ForkPoint {
    /// The outcome of the search.
    public enum Outcome: Sendable, Equatable {
        /// The node's log is a prefix of the writer's: stream from its newest commit.
        case noFork
        /// Keep commits up to `ts`, discard the `discarding` newest commits above it.
        case forkAt(ts: UInt64, discarding: Int)
        /// No common commit is known: replace the whole state with a snapshot.
        case needsSnapshot
    }

    /// - Parameters:
    ///   - local: timestamps of the node's newest commits, ascending; empty for an empty node.
    ///   - writerHas: whether the writer's log holds a commit at this timestamp.
    public static func find(local: [UInt64], writerHas: (UInt64) -> Bool) -> Outcome {
        guard let newest = local.last, newest != 0 else { return .noFork }
        if writerHas(newest) { return .noFork }
        var discarding = 1
        for ts in local.dropLast().reversed() {
            if writerHas(ts) { return .forkAt(ts: ts, discarding: discarding) }
            discarding += 1
        }
        return .needsSnapshot
    }
}
