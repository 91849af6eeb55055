import Logging
import Metrics
import RippleEngine
import RippleLog
import RippleProtocol
import RippleReactivity
import RippleValues

/// A socket's handle in the hub.
public typealias SessionID = UInt64

/// One live query, shared by every subscription with the same path, args, identity and journal.
struct QueryKey: Hashable, Sendable {
    let path: String
    let args: [String: Value]
    let identity: Identity
    let journal: String?
}

/// Keeps every subscribed query live and sends each socket its Transitions.
///
/// After a commit, the write set goes through the `SubscriptionIndex` to find the queries it
/// invalidated (cost grows with the hits). Stale and newly added queries are re-run together in
/// one read transaction at a snapshot `S`; once every commit up to `S` has been through
/// invalidation, each socket whose queries are all known to be correct at `S` gets one
/// Transition ending at `S` with the results that changed. So every Transition shows exactly
/// the state at one commit timestamp — never a mix. Identical queries across sockets run once.
actor SubscriptionHub {
    /// A query's latest result and how long it is known to stay correct.
    final class LiveQuery {
        let key: QueryKey
        /// The journal to re-run with: the client's, then the end cursor of the first run.
        var journal: String?
        var result: Result<QueryResult, FunctionError>?
        var resultHash = 0
        /// The snapshot the result was computed at.
        var computedAt = CommitTimestamp.zero
        /// The newest commit that touched the read set; past `computedAt` means stale.
        var lastHit = CommitTimestamp.zero
        var subscribers = Set<Subscriber>()

        init(key: QueryKey) {
            self.key = key
            self.journal = key.journal
        }

        var isStale: Bool { result == nil || lastHit > computedAt }

        /// Whether the result is the query's answer at snapshot `ts`.
        func isCorrect(at ts: CommitTimestamp) -> Bool {
            guard result != nil, computedAt <= ts else { return false }
            return computedAt == ts || lastHit <= computedAt
        }
    }

    struct Subscriber: Hashable {
        let session: SessionID
        let queryId: UInt32
    }

    /// What the hub knows of one socket.
    struct Session {
        let send: @Sendable (ServerMessage) -> Void
        /// The version the client is at (the end of the last Transition sent).
        var sent = StateVersion.initial
        var querySetVersion: UInt32 = 0
        var identityVersion: UInt32 = 0
        var identity: Identity = .anonymous
        var queries: [UInt32: QueryKey] = [:]
        /// The hash of the result last sent for each query.
        var sentHashes: [UInt32: Int] = [:]
        var removed: [UInt32] = []
        /// A Transition reaching at least `owedTimestamp` is owed: clients finish a mutation
        /// call on the first Transition after its response, even when nothing changed.
        var owesTransition = false
        /// No Transition ends before this: the newest of the client's Connect ts, its
        /// mutations' commit ts and (after a snapshot install) the last ts it was shown.
        /// It only grows, so an install below it cannot take the client back in time.
        var owedTimestamp = CommitTimestamp.zero
        /// Server clock skew to report, from Connect.
        var clientClockSkew: Int64?
        /// Transitions handed to the socket and not yet written to it (`transitionWritten`).
        var unwrittenTransitions = 0
    }

    /// At most this many Transitions wait for a socket at once. A client that reads slower than
    /// its queries change gets its next Transition when the socket has taken the last ones, and
    /// that Transition covers everything since: it costs the node a bounded buffer, not one
    /// queued Transition per commit.
    static let maxUnwrittenTransitions = 2

    let engine: Engine
    let logger: Logger
    private var queries: [QueryKey: LiveQuery] = [:]
    private var index = SubscriptionIndex<QueryKey>()
    private var sessions: [SessionID: Session] = [:]
    private var nextSession: SessionID = 1
    /// Queries that must be (re)computed: new, or hit by a commit after their computation.
    /// Kept explicitly so a round costs the work pending, not the number of live queries.
    private var staleKeys = Set<QueryKey>()
    /// Sessions that may owe their client a Transition (a query changed, the query set or
    /// identity moved, a mutation finished). Other sessions are not visited by a round.
    private var pendingSessions = Set<SessionID>()
    /// Sessions owing a Transition whose socket still has `maxUnwrittenTransitions` to write;
    /// they go back to `pendingSessions` when it has written one.
    private var backloggedSessions = Set<SessionID>()
    /// Sessions that may be shown nothing older than a timestamp this node has not processed
    /// yet (their client saw it elsewhere); they go back to `pendingSessions` with each commit
    /// group, so waiting for one costs no round, no task and no waiter.
    private var catchingUpSessions = Set<SessionID>()
    /// Every commit up to here has been through invalidation.
    private let processed: Watermark
    /// Bumped by each snapshot install, so a round whose reads may predate it drops its results.
    private var generation = 0
    private var updating = false
    private var updateRequested = false
    /// Re-runs done, for tests and metrics.
    private(set) var rerunCount = 0
    /// The most queries one round has re-run, for tests: never above `maxQueriesPerRound`.
    private(set) var largestRound = 0
    private let reruns = Counter(label: "ripple_subscription_reruns_total")
    private let liveQueriesGauge = Gauge(label: "ripple_live_queries")
    private let sessionsGauge = Gauge(label: "ripple_sync_sessions")

    /// Live queries re-run per read transaction (`SyncLimits.maxQueriesPerRound`).
    let maxQueriesPerRound: Int

    init(engine: Engine, startTimestamp: CommitTimestamp, logger: Logger, maxQueriesPerRound: Int = SyncLimits().maxQueriesPerRound) {
        self.engine = engine
        self.maxQueriesPerRound = max(1, maxQueriesPerRound)
        self.processed = Watermark(startTimestamp)
        self.logger = logger
    }

    // MARK: - Commits

    /// Takes a durable commit group through invalidation. Called in commit order.
    func ingest(_ group: CommitGroup) {
        if group.replacesState {
            stateReplaced(at: group.appliedTimestamp)
        } else {
            for mutation in group.mutations {
                for key in index.invalidated(by: mutation.writes) {
                    guard let live = queries[key] else { continue }
                    live.lastHit = max(live.lastHit, mutation.ts)
                    if live.isStale { staleKeys.insert(key) }
                }
            }
            processed.advance(to: group.appliedTimestamp)
        }
        pendingSessions.formUnion(catchingUpSessions)
        catchingUpSessions.removeAll()
        requestUpdate()
    }

    /// A snapshot replaced the node's state at `ts`, which may equal a timestamp results were
    /// computed at (an old writer's tail at the new writer's ts) or lie below it: no timestamp
    /// comparison can find what changed, so every result is dropped and re-run, and `processed`
    /// goes back to `ts` so that "applied here" waits for the new writer's commits above it.
    /// A client already shown a later ts is shown nothing older (protocol: a Transition never
    /// goes back in time); its next Transition waits until the node passes that ts again, and
    /// carries the re-run results. Closing its socket instead would end in the same wait, after
    /// a reconnect and a resubscription, since its Connect carries that ts.
    private func stateReplaced(at ts: CommitTimestamp) {
        generation += 1
        for (key, live) in queries {
            // Hits from the discarded tail may lie above every re-run until the new writer
            // passes them: kept, they would leave the query stale and rounds looping.
            live.result = nil
            live.computedAt = .zero
            live.lastHit = .zero
            staleKeys.insert(key)
        }
        processed.reset(to: ts)
        for (id, session) in sessions {
            pendingSessions.insert(id)
            let shown = CommitTimestamp(nanoseconds: session.sent.ts)
            sessions[id]!.owedTimestamp = max(session.owedTimestamp, shown)
        }
    }

    /// Whether every commit up to `ts` has been through invalidation here.
    func hasProcessed(_ ts: CommitTimestamp) -> Bool { processed.value >= ts }

    private func waitUntilProcessed(_ ts: CommitTimestamp) async {
        await processed.wait(until: ts)
    }

    // MARK: - Sessions

    func openSession(send: @escaping @Sendable (ServerMessage) -> Void) -> SessionID {
        let id = nextSession
        nextSession += 1
        sessions[id] = Session(send: send)
        sessionsGauge.record(sessions.count)
        return id
    }

    func closeSession(_ id: SessionID) {
        guard let session = sessions.removeValue(forKey: id) else { return }
        sessionsGauge.record(sessions.count)
        pendingSessions.remove(id)
        backloggedSessions.remove(id)
        catchingUpSessions.remove(id)
        for (queryId, key) in session.queries { unsubscribe(Subscriber(session: id, queryId: queryId), from: key) }
    }

    /// The socket has written one of the Transitions handed to it.
    func transitionWritten(_ id: SessionID) {
        guard sessions[id] != nil else { return }
        sessions[id]!.unwrittenTransitions -= 1
        if backloggedSessions.remove(id) != nil {
            pendingSessions.insert(id)
            requestUpdate()
        }
    }

    func setClockSkew(_ id: SessionID, _ skew: Int64?) {
        sessions[id]?.clientClockSkew = skew
    }

    /// Applies a validated ModifyQuerySet. The new results go out in the next Transition.
    func modifyQuerySet(_ id: SessionID, newVersion: UInt32, modifications: [QuerySetModification]) {
        guard var session = sessions[id] else { return }
        for modification in modifications {
            switch modification {
            case .add(let queryId, let path, let args, let journal, _):
                let key = QueryKey(path: path, args: args.objectValue ?? [:], identity: session.identity, journal: journal)
                session.queries[queryId] = key
                session.removed.removeAll { $0 == queryId }
                subscribe(Subscriber(session: id, queryId: queryId), to: key)
            case .remove(let queryId):
                if let key = session.queries.removeValue(forKey: queryId) {
                    unsubscribe(Subscriber(session: id, queryId: queryId), from: key)
                }
                session.sentHashes[queryId] = nil
                session.removed.append(queryId)
            }
        }
        session.querySetVersion = newVersion
        sessions[id] = session
        pendingSessions.insert(id)
        requestUpdate()
    }

    /// A new identity for the socket: every query is re-keyed (results may depend on who asks).
    func setIdentity(_ id: SessionID, _ identity: Identity, version: UInt32) {
        guard var session = sessions[id] else { return }
        session.identity = identity
        session.identityVersion = version
        for (queryId, old) in session.queries {
            let subscriber = Subscriber(session: id, queryId: queryId)
            unsubscribe(subscriber, from: old)
            let key = QueryKey(path: old.path, args: old.args, identity: identity, journal: queries[old]?.journal ?? old.journal)
            session.queries[queryId] = key
            subscribe(subscriber, to: key)
        }
        sessions[id] = session
        pendingSessions.insert(id)
        requestUpdate()
    }

    /// The client has seen state at `ts` (here or on another node): no Transition of it ends
    /// before `ts`, even if a snapshot install takes this node back below it, so it never goes
    /// back in time.
    func showNothingBefore(_ id: SessionID, timestamp ts: CommitTimestamp) {
        guard sessions[id] != nil else { return }
        sessions[id]!.owedTimestamp = max(sessions[id]!.owedTimestamp, ts)
    }

    /// The client needs a Transition reaching `ts` (a mutation it made committed at `ts`).
    func owe(_ id: SessionID, timestamp ts: CommitTimestamp) {
        guard sessions[id] != nil else { return }
        sessions[id]!.owedTimestamp = max(sessions[id]!.owedTimestamp, ts)
        sessions[id]!.owesTransition = true
        pendingSessions.insert(id)
        requestUpdate()
    }

    private func subscribe(_ subscriber: Subscriber, to key: QueryKey) {
        let live: LiveQuery
        if let existing = queries[key] {
            live = existing
        } else {
            live = LiveQuery(key: key)
            queries[key] = live
            staleKeys.insert(key)
        }
        live.subscribers.insert(subscriber)
    }

    private func unsubscribe(_ subscriber: Subscriber, from key: QueryKey) {
        guard let live = queries[key] else { return }
        live.subscribers.remove(subscriber)
        if live.subscribers.isEmpty {
            queries[key] = nil
            staleKeys.remove(key)
            index.remove(key)
        }
    }

    // MARK: - Updates

    private func requestUpdate() {
        updateRequested = true
        guard !updating else { return }
        updating = true
        Task { await self.runUpdates() }
    }

    private func runUpdates() async {
        while updateRequested {
            updateRequested = false
            await updateRound()
            // Let commits, query-set changes and closing sockets in between rounds.
            await Task.yield()
        }
        updating = false
    }

    /// Re-runs what is stale (at most `maxQueriesPerRound` queries) at one snapshot, then sends
    /// every socket that can be answered at that snapshot its Transition. Sockets with a query
    /// made stale by a commit after the snapshot, or not re-run yet, wait for a later round.
    private func updateRound() async {
        let stale = staleKeys.prefix(maxQueriesPerRound).compactMap { queries[$0] }
        guard !stale.isEmpty || !pendingSessions.isEmpty else { return }
        let requests = stale.map { Engine.QueryRequest(path: $0.key.path, args: $0.key.args, identity: $0.key.identity, journal: $0.journal) }
        let snapshot: (ts: CommitTimestamp, results: [Result<QueryResult, FunctionError>])
        let startedIn = generation
        do {
            snapshot = try await engine.querySnapshot(requests)
        } catch {
            logger.error("subscription re-run failed: \(error)")
            updateRequested = true
            try? await Task.sleep(for: .milliseconds(100))
            return
        }
        await waitUntilProcessed(snapshot.ts)
        guard generation == startedIn else {
            updateRequested = true
            return
        }
        rerunCount += stale.count
        largestRound = max(largestRound, stale.count)
        reruns.increment(by: stale.count)
        liveQueriesGauge.record(queries.count)
        for (live, result) in zip(stale, snapshot.results) where queries[live.key] === live {
            live.result = result
            live.computedAt = snapshot.ts
            if case .success(let value) = result {
                live.journal = value.journal ?? live.journal
                index.insert(live.key, readSet: value.readSet)
            } else {
                index.remove(live.key)
            }
            let hash = Self.hash(result)
            if hash != live.resultHash {
                for subscriber in live.subscribers { pendingSessions.insert(subscriber.session) }
            }
            live.resultHash = hash
            if !live.isStale { staleKeys.remove(live.key) }
        }
        for id in pendingSessions where sendTransition(id, at: snapshot.ts) { pendingSessions.remove(id) }
        if !staleKeys.isEmpty || !pendingSessions.isEmpty {
            updateRequested = true
        }
    }

    private func needsTransition(_ session: Session) -> Bool {
        session.sent.querySet != session.querySetVersion || session.sent.identity != session.identityVersion
            || session.owesTransition || !session.removed.isEmpty
            || session.queries.contains { queryId, key in queries[key].map { $0.resultHash != session.sentHashes[queryId] } ?? false }
    }

    /// Sends the session its Transition to `ts` if it needs one and every query of it is known
    /// correct at `ts`. Returns false when it must wait for a later round.
    private func sendTransition(_ id: SessionID, at ts: CommitTimestamp) -> Bool {
        guard var session = sessions[id], needsTransition(session) else { return true }
        if session.owedTimestamp > processed.value {
            catchingUpSessions.insert(id)
            return true
        }
        guard ts >= CommitTimestamp(nanoseconds: session.sent.ts), ts >= session.owedTimestamp else { return false }
        guard session.unwrittenTransitions < Self.maxUnwrittenTransitions else {
            backloggedSessions.insert(id)
            return true
        }
        var modifications: [StateModification] = session.removed.map { .queryRemoved(queryId: $0) }
        var hashes = session.sentHashes
        for (queryId, key) in session.queries.sorted(by: { $0.key < $1.key }) {
            guard let live = queries[key], live.isCorrect(at: ts), let result = live.result else { return false }
            guard hashes[queryId] != live.resultHash else { continue }
            hashes[queryId] = live.resultHash
            switch result {
            case .success(let value):
                modifications.append(.queryUpdated(queryId: queryId, value: value.value, logLines: [], journal: value.journal))
            case .failure(let error):
                modifications.append(
                    .queryFailed(queryId: queryId, errorMessage: error.message, logLines: [], journal: live.journal, errorData: error.data)
                )
            }
        }
        let end = StateVersion(querySet: session.querySetVersion, identity: session.identityVersion, ts: ts.nanoseconds)
        session.send(
            .transition(
                Transition(
                    startVersion: session.sent, endVersion: end, modifications: modifications,
                    clientClockSkew: session.clientClockSkew, serverTs: Int64(clamping: ts.nanoseconds)
                )))
        session.sent = end
        session.sentHashes = hashes
        session.removed = []
        session.owesTransition = false
        session.unwrittenTransitions += 1
        sessions[id] = session
        return true
    }

    static func hash(_ result: Result<QueryResult, FunctionError>) -> Int {
        var hasher = Hasher()
        switch result {
        case .success(let value):
            hasher.combine(0)
            hasher.combine(value.value)
            hasher.combine(value.journal)
        case .failure(let error):
            hasher.combine(1)
            hasher.combine(error.message)
            hasher.combine(error.data)
        }
        return hasher.finalize()
    }

    /// Live queries right now (shared ones count once).
    var liveQueryCount: Int { queries.count }

    var sessionCount: Int { sessions.count }

    /// Sessions held until this node processes a timestamp their client has seen.
    var catchingUpSessionCount: Int { catchingUpSessions.count }

    /// Whether a round is running or asked for, for tests: a hub with nothing stale rests.
    var isUpdating: Bool { updating }
}
