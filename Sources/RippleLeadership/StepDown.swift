/// When a writer must stop accepting writes: before etcd can expire its lease, so no two
/// writers ever overlap.
///
/// Rule: etcd starts a lease's TTL afresh when it *processes* a keepalive, which is after the
/// writer *sent* it. So `sent + ttl` is no later than the expiry etcd holds. The writer stops at
/// `sent + ttl - margin`, where the margin covers the local clock running slow against etcd's
/// (monotonic clocks drift by well under 1%) and the time the writer needs to refuse writes
/// in flight. A renewal that fails or answers a TTL of 0 (the lease is gone) moves nothing: the
/// deadline from the last good renewal stands. A process paused past its deadline (SIGSTOP, a
/// long GC-like stall) finds the deadline gone when it resumes and refuses every write before
/// committing it — the committer consults this deadline right before `COMMIT`.
public struct StepDownRule: Sendable, Equatable {
    /// The TTL etcd granted (it may round the requested one up).
    public let ttl: Duration
    /// The share of the TTL kept as a safety margin.
    public let marginFraction: Double
    /// The minimum margin.
    public let minimumMargin: Duration

    public init(ttl: Duration, marginFraction: Double = 0.25, minimumMargin: Duration = .milliseconds(100)) {
        self.ttl = ttl
        self.marginFraction = marginFraction
        self.minimumMargin = minimumMargin
    }

    /// The safety margin subtracted from the TTL.
    public var margin: Duration { max(minimumMargin, ttl * marginFraction) }

    /// The last instant writes may commit, given when the last successful renewal (or grant)
    /// was sent.
    public func deadline<I: InstantProtocol>(renewalSentAt sent: I) -> I where I.Duration == Duration {
        sent.advanced(by: ttl - margin)
    }

    /// How often to renew: three times per TTL, so two lost renewals in a row still leave time.
    public var renewalInterval: Duration { ttl / 3 }
}

/// Until when a writer may commit in its term — and the rule that once it may not, it never may
/// again in that term.
///
/// A renewal sent before the deadline but answered after it moves the deadline on (etcd renewed
/// the lease in time, so no successor can exist). But the committer may have refused a write
/// in between, possibly after that write's group was already durable and could not be shipped;
/// a writer that then went on committing would ship later groups without that one. So the
/// first refusal ends the term's writes for good: the node steps down and rejoins as a replica.
public struct CommitPermit: Sendable, Equatable {
    public private(set) var deadline: ContinuousClock.Instant
    /// Whether a commit was refused at `deadline`; nothing commits again in this term.
    public private(set) var lapsed = false

    public init(deadline: ContinuousClock.Instant) {
        self.deadline = deadline
    }

    /// Whether a commit may happen at `now`; the first refusal is final.
    public mutating func admit(at now: ContinuousClock.Instant) -> Bool {
        if now >= deadline { lapsed = true }
        return !lapsed
    }

    /// A renewal sent at `sent` succeeded: the deadline moves on, unless the renewal was sent too
    /// late (a successor may exist) or a commit was already refused.
    public mutating func renewed(sentAt sent: ContinuousClock.Instant, rule: StepDownRule) {
        guard !lapsed, sent < deadline else { return }
        deadline = rule.deadline(renewalSentAt: sent)
    }
}
