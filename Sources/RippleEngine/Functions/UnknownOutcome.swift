import RippleLog

/// Why the node answering a mutation cannot tell whether it was applied. The client must not
/// assume either way: it may resend (deduplicated where the case says so) or read back.
/// Kept as a value, not as words inside a message, so that code deciding on it matches a case;
/// `FunctionError.unknownOutcome(_:)` writes the one sentence every such error ends with.
public enum UnknownOutcome: Sendable, Equatable {
    /// A replica forwarded the mutation, and the writer could not be reached or the link
    /// dropped before it answered (`reason` says how).
    case linkLost(reason: String)
    /// The writer committed the mutation at `ts`, but this replica did not apply that commit
    /// within `timeout` — after a failover it may never arrive.
    case notAppliedHere(ts: CommitTimestamp, timeout: Duration)
    /// The writer's leadership lapsed while the group's COMMIT ran (`reason` is the commit
    /// gate's refusal): the group is durable here but neither shipped nor acknowledged.
    case leadershipLapsed(reason: String)
    /// The writer committed the mutation at `ts`, but its sync set did not acknowledge it within
    /// `timeout` (`reason` says whom it waits for): a failover may promote a replica without it.
    case notReplicated(ts: CommitTimestamp, reason: String, timeout: Duration)
    /// The writer's COMMIT of the group failed (an I/O error, a failed fsync): SQLite may have
    /// written the group to its write-ahead log first, and recovery brings it back when the
    /// node restarts. The details are in the writer's log, not in the client's message.
    case commitFailed

    /// What happened, in the words of the node that saw it.
    var cause: String {
        switch self {
        case .linkLost(let reason):
            "The writer could not be reached or the link dropped before it answered (\(reason))"
        case .notAppliedHere(let ts, let timeout):
            "The writer committed the mutation at \(ts), but this node did not apply it within \(timeout) (the writer may have failed over)"
        case .leadershipLapsed(let reason):
            "\(reason) while the mutation was being committed"
        case .notReplicated(let ts, let reason, let timeout):
            "no replica in sync: commit \(ts) is durable on the writer, but \(reason) within \(timeout) (--sync-timeout-seconds)"
        case .commitFailed:
            "The writer's COMMIT failed, and the group may still be in its write-ahead log, recovered when the node restarts"
        }
    }

    /// Whether resending the same request is safe, and who makes it so. After a lapsed
    /// leadership the old writer's group may be discarded and its dedup record with it.
    var resendAdvice: String? {
        switch self {
        case .linkLost: "Resending the same request (same session and request id) is deduplicated by the writer."
        case .notAppliedHere, .notReplicated, .commitFailed: "Resending the same request (same session and request id) is deduplicated."
        case .leadershipLapsed: nil
        }
    }
}

extension FunctionError {
    /// The error for a mutation whose outcome is unknown: kind `unavailable` (the node could not
    /// finish the call), the message saying why and that it "may or may not have been applied".
    public static func unknownOutcome(_ outcome: UnknownOutcome) -> FunctionError {
        var message = outcome.cause + ": the mutation may or may not have been applied"
        if let advice = outcome.resendAdvice { message += ". " + advice }
        return FunctionError(.unavailable, message, unknownOutcome: outcome)
    }
}
