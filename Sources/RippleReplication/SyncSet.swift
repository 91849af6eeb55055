import RippleLog

/// The writer's synchronous-replication bookkeeping, as a pure state machine: which replicas
/// must acknowledge a commit before its client hears back (the sync set S), and how far every
/// one of them has acknowledged.
///
/// Rule (PostgreSQL with Patroni's `synchronous_mode`): S holds exactly `required` replicas,
/// and every member of S — whatever S the coordinator holds at any moment — has every commit
/// acknowledged to a client. So:
/// - a commit is acknowledged only once every member of S, and of a proposed S' not yet
///   recorded, has acknowledged it (`synced`);
/// - a replica joins S only if it has acknowledged everything acknowledged so far, and only
///   once S' naming it is recorded (in etcd under failover) — before that its acks never stand
///   in for a member's;
/// - a member leaves S only in the same recorded change that brings its replacement in, when it
///   is disconnected or lags (behind another replica for longer than `lagLimit`);
/// - with too few replicas eligible nothing is acknowledged: writes wait (and time out at the
///   caller), never drop to asynchronous.
/// A replica's acks count only above the position it connected with: that position may be an
/// old writer's divergent tail, which the writer answers with a snapshot, and acks of it say
/// nothing about this writer's log.
public struct SyncSet: Sendable, Equatable {
    /// What the owner must do next.
    public enum Action: Sendable, Equatable {
        /// Record this S' durably (etcd's `/sync` key), then call `recorded` or `recordFailed`.
        case record([String])
    }

    /// One connected replica.
    struct Link: Sendable, Equatable {
        /// Acks at or below this (its position when it connected) do not count.
        var floor: CommitTimestamp
        /// The newest commit it acknowledged above `floor`; nil until it did.
        var acknowledged: CommitTimestamp?
        /// Open links of this node id (a reconnect can overlap the old link's end).
        var count: Int
        /// Since when another replica has acknowledged more than this one, nil when it is level.
        var behindSince: ContinuousClock.Instant?
    }

    /// How many replicas S holds.
    public let required: Int
    /// How long a member may trail another replica before it can be replaced.
    public let lagLimit: Duration
    /// The recorded S.
    public private(set) var members: [String]
    /// The S' being recorded, if any.
    public private(set) var proposal: [String]?
    /// Every commit through this timestamp is durable on every member of S (and of `proposal`):
    /// acknowledged so far. Never goes down.
    public private(set) var synced: CommitTimestamp
    /// Nodes that may not join S (they may not be promoted: the scheduler).
    public private(set) var excluded: Set<String> = []
    var links: [String: Link] = [:]

    /// - Parameter durable: the writer's durable position when it starts leading; a replica
    ///   must hold all of it to join S (the previous writer may have acknowledged any of it).
    public init(required: Int, durable: CommitTimestamp, members: [String] = [], lagLimit: Duration = .seconds(2)) {
        self.required = max(0, required)
        self.lagLimit = lagLimit
        self.members = members
        self.synced = durable
    }

    /// A replica connected at `position` (what its hello said).
    public mutating func connected(_ node: String, at position: CommitTimestamp, now: ContinuousClock.Instant) -> Action? {
        if var link = links[node] {
            link.count += 1
            link.floor = position
            link.acknowledged = nil
            links[node] = link
        } else {
            links[node] = Link(floor: position, acknowledged: nil, count: 1, behindSince: nil)
        }
        return next(now: now)
    }

    /// A replica's link closed.
    public mutating func disconnected(_ node: String, now: ContinuousClock.Instant) -> Action? {
        guard var link = links[node] else { return nil }
        link.count -= 1
        links[node] = link.count > 0 ? link : nil
        return next(now: now)
    }

    /// A replica acknowledged that everything through `ts` is durable on it.
    public mutating func acknowledged(_ node: String, through ts: CommitTimestamp, now: ContinuousClock.Instant) -> Action? {
        guard var link = links[node], ts > link.floor else { return nil }
        link.acknowledged = max(link.acknowledged ?? 0, ts)
        links[node] = link
        return next(now: now)
    }

    /// The proposal was recorded: it is S now.
    public mutating func recorded(_ set: [String], now: ContinuousClock.Instant) -> Action? {
        guard proposal == set else { return nil }
        members = set
        proposal = nil
        return next(now: now)
    }

    /// The proposal could not be recorded; `excluding` names nodes that may never join (found
    /// not to stand for election). The next event proposes again.
    public mutating func recordFailed(excluding: Set<String> = [], now: ContinuousClock.Instant) -> Action? {
        excluded.formUnion(excluding)
        proposal = nil
        return excluding.isEmpty ? nil : next(now: now)
    }

    /// Why the commit at `ts` is not acknowledged yet, for the timeout error.
    public func waitingReason(for ts: CommitTimestamp) -> String {
        guard members.count >= required else {
            let replicas = required == 1 ? "1 replica" : "\(required) replicas"
            return "\(replicas) must acknowledge each commit and too few have caught up with commit \(synced) to join the sync set"
        }
        let waitingOn = Set(members + (proposal ?? [])).sorted().filter { (links[$0]?.acknowledged ?? 0) < ts }
        let states = waitingOn.map { node in
            guard let link = links[node] else { return "\(node) (disconnected)" }
            return "\(node) (acknowledged through \(link.acknowledged ?? link.floor))"
        }
        return "the sync set is waiting for \(states.joined(separator: ", "))"
    }

    // MARK: - Rules

    /// Moves `synced`, the lag clocks, and proposes the next change of S, if any.
    private mutating func next(now: ContinuousClock.Instant) -> Action? {
        let leading = links.values.compactMap(\.acknowledged).max() ?? 0
        for (node, var link) in links {
            if (link.acknowledged ?? 0) >= leading {
                link.behindSince = nil
            } else if link.behindSince == nil {
                link.behindSince = now
            }
            links[node] = link
        }
        let mustAcknowledge = Set(members + (proposal ?? []))
        if members.count >= required, required > 0 {
            let reached = mustAcknowledge.map { links[$0]?.acknowledged ?? 0 }.min() ?? 0
            synced = max(synced, reached)
        }
        guard proposal == nil, required > 0 else { return nil }
        let candidates = links.filter { node, link in
            !mustAcknowledge.contains(node) && !excluded.contains(node) && (link.acknowledged ?? 0) >= synced && link.acknowledged != nil
        }
        .sorted { lhs, rhs in
            lhs.value.acknowledged != rhs.value.acknowledged ? lhs.value.acknowledged! > rhs.value.acknowledged! : lhs.key < rhs.key
        }
        guard let best = candidates.first?.key else { return nil }
        if members.count < required {
            proposal = members + [best]
            return .record(proposal!)
        }
        let replaceable = members.first { member in
            guard let link = links[member] else { return true }
            guard let since = link.behindSince else { return false }
            return now - since >= lagLimit && (link.acknowledged ?? 0) < candidates.first!.value.acknowledged!
        }
        guard let replaceable else { return nil }
        proposal = members.map { $0 == replaceable ? best : $0 }
        return .record(proposal!)
    }
}
