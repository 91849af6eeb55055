import RippleProtocol
import RippleValues

/// The client's side of the sync protocol as a pure state machine: what it is subscribed to,
/// what the server has sent, which requests are in flight, and which optimistic updates are
/// layered over the server's results. Events go in (`subscribe`, `receive`, `socketOpened`);
/// `Effects` come out (messages to send, results to show, calls to finish). No sockets, so
/// every rule here is tested without I/O.
///
/// The rules, from the JS client (`local_state.ts`, `remote_query_set.ts`, `request_manager.ts`,
/// `optimistic_updates_impl.ts`) and protocol.md §1.6, §3, §4:
/// - Every socket is a fresh protocol session: versions restart at 0, all queries are re-added
///   under the ids they had, and every unfinished mutation is resent with its requestId, so the
///   server's (sessionId, requestId) dedup answers a mutation it already ran with its first result.
///   Unfinished actions are failed instead: they are not transactions, so resending could run one twice.
/// - A mutation finishes once the client shows a state that contains its commit, i.e. a
///   Transition reaching its `ts`; its optimistic update is dropped at the same moment, so the
///   app never sees its write disappear and come back.
/// - Time never goes backwards for the app: a state older than one already shown (a node that
///   has not caught up after a reconnect) is taken in but not shown until the server passes it.
struct SyncState {
    /// What the driver must do after an event, in this order: send, show, finish.
    struct Effects {
        var send: [ClientMessage] = []
        /// New outcomes of subscribed queries.
        var updates: [(QueryToken, QueryOutcome)] = []
        var finished: [(requestId: UInt32, outcome: RequestOutcome)] = []
        /// The socket must be closed and reopened, for this reason.
        var reconnectReason: String?
        /// The server refused the identity (`authUpdateAttempted`: it refused the token just sent).
        var authRefused: (error: String, authUpdateAttempted: Bool)?
        /// The server confirmed the token last sent.
        var authConfirmed = false
        /// A Transition arrived: the socket works, so reconnect backoff may start over.
        var sawTransition = false
    }

    enum RequestOutcome: Equatable {
        case success(Value)
        case failure(message: String, data: Value?)
        case connectionLost
    }

    private struct LocalQuery {
        let id: UInt32
        var subscribers: Int
        /// What the server last sent for it; it comes back in `Add` so a paginated page keeps its end.
        var journal: String?
    }

    private enum RequestKind { case mutation, action }

    private struct Request {
        let kind: RequestKind
        let udfPath: String
        let args: Value
        /// Set by a successful MutationResponse; the call finishes when a shown state reaches it.
        var committed: (ts: UInt64, result: Value)?

        func message(_ id: UInt32) -> ClientMessage {
            switch kind {
            case .mutation: .mutation(requestId: id, udfPath: udfPath, args: args, componentPath: nil)
            case .action: .action(requestId: id, udfPath: udfPath, args: args, componentPath: nil)
            }
        }
    }

    // MARK: Local state (survives reconnects)

    private var queries: [QueryToken: LocalQuery] = [:]
    private var tokens: [UInt32: QueryToken] = [:]
    private var nextQueryId: UInt32 = 0
    private var requests: [UInt32: Request] = [:]
    private var nextRequestId: UInt32 = 0
    /// In the order the mutations were sent, which is the order they are applied in.
    private var optimisticUpdates: [(requestId: UInt32, update: OptimisticUpdate)] = []
    private(set) var authToken: AuthenticationToken?
    /// The highest timestamp seen from the server, sent in `Connect` so a node behind it waits.
    private(set) var maxObservedTimestamp: UInt64?

    /// The server state the app is shown, and its timestamp; never replaced by an older one.
    private var shownResults: [UInt32: QueryOutcome] = [:]
    private(set) var shownTimestamp: UInt64 = 0
    /// What subscribers last got: `shownResults` with the optimistic updates applied.
    private var view: [QueryToken: QueryOutcome] = [:]

    // MARK: Socket state (reset per socket)

    private var connected = false
    private var querySetVersion: UInt32 = 0
    private var identityVersion: UInt32 = 0
    private var remoteVersion = StateVersion.initial
    private var remoteResults: [UInt32: QueryOutcome] = [:]

    /// The current outcome of a query, for a new subscriber of a query others already watch.
    func currentOutcome(_ token: QueryToken) -> QueryOutcome? { view[token] }

    var hasSubscriptions: Bool { !queries.isEmpty }

    // MARK: - App events

    /// Adds a subscriber; the first one for `token` subscribes on the server.
    mutating func subscribe(_ token: QueryToken) -> Effects {
        var effects = Effects()
        if var query = queries[token] {
            query.subscribers += 1
            queries[token] = query
            return effects
        }
        let id = nextQueryId
        nextQueryId += 1
        queries[token] = LocalQuery(id: id, subscribers: 1, journal: nil)
        tokens[id] = token
        if connected {
            effects.send.append(modifyQuerySet([.add(queryId: id, udfPath: token.udfPath, args: token.args, journal: nil, componentPath: nil)]))
        }
        return effects
    }

    /// Removes a subscriber; the last one for `token` unsubscribes on the server.
    mutating func unsubscribe(_ token: QueryToken) -> Effects {
        var effects = Effects()
        guard var query = queries[token] else { return effects }
        query.subscribers -= 1
        guard query.subscribers == 0 else {
            queries[token] = query
            return effects
        }
        queries[token] = nil
        tokens[query.id] = nil
        shownResults[query.id] = nil
        remoteResults[query.id] = nil
        view[token] = nil
        if connected { effects.send.append(modifyQuerySet([.remove(queryId: query.id)])) }
        return effects
    }

    /// Sends a mutation, applying its optimistic update at once. Returns its requestId.
    mutating func mutate(udfPath: String, args: Value, optimisticUpdate: OptimisticUpdate?) -> (UInt32, Effects) {
        let id = startRequest(Request(kind: .mutation, udfPath: udfPath, args: args))
        var effects = Effects()
        if let optimisticUpdate {
            optimisticUpdates.append((requestId: id, update: optimisticUpdate))
            effects.updates = refreshView()
        }
        if connected { effects.send.append(requests[id]!.message(id)) }
        return (id, effects)
    }

    /// Sends an action. Returns its requestId.
    mutating func act(udfPath: String, args: Value) -> (UInt32, Effects) {
        let id = startRequest(Request(kind: .action, udfPath: udfPath, args: args))
        var effects = Effects()
        if connected { effects.send.append(requests[id]!.message(id)) }
        return (id, effects)
    }

    private mutating func startRequest(_ request: Request) -> UInt32 {
        let id = nextRequestId
        nextRequestId += 1
        requests[id] = request
        return id
    }

    /// Sets (or with `.none`, clears) the identity; sent at once on an open socket.
    mutating func setAuth(_ token: AuthenticationToken?) -> Effects {
        authToken = token
        var effects = Effects()
        guard connected else { return effects }
        effects.send.append(.authenticate(baseVersion: identityVersion, token: token ?? .none))
        identityVersion += 1
        return effects
    }

    /// Replaces the identity for the next socket without telling this one (which is about to close).
    mutating func replaceAuth(_ token: AuthenticationToken?) {
        authToken = token
    }

    /// Fails every unfinished call: the client is closing.
    mutating func close() -> Effects {
        var effects = Effects()
        effects.finished = requests.keys.sorted().map { (requestId: $0, outcome: .connectionLost) }
        requests = [:]
        optimisticUpdates = []
        connected = false
        return effects
    }

    // MARK: - Socket events

    /// A new socket is open and `Connect` was sent: replays auth, queries and unfinished mutations.
    mutating func socketOpened() -> Effects {
        connected = true
        remoteVersion = .initial
        remoteResults = [:]
        querySetVersion = 0
        identityVersion = 0
        var effects = Effects()
        if let authToken {
            effects.send.append(.authenticate(baseVersion: 0, token: authToken))
            identityVersion = 1
        }
        // Sent even when empty, as JS does: querySet is then 1 from the first Transition on.
        let adds = queries.values.sorted { $0.id < $1.id }.map { query in
            let token = tokens[query.id]!
            return QuerySetModification.add(queryId: query.id, udfPath: token.udfPath, args: token.args, journal: query.journal, componentPath: nil)
        }
        effects.send.append(modifyQuerySet(adds))
        for id in requests.keys.sorted() {
            let request = requests[id]!
            switch request.kind {
            case .mutation:
                effects.send.append(request.message(id))
            case .action:
                requests[id] = nil
                effects.finished.append((requestId: id, outcome: .connectionLost))
            }
        }
        return effects
    }

    /// The socket closed; nothing is sent until the next one opens.
    mutating func socketClosed() {
        connected = false
    }

    /// Applies one server message.
    mutating func receive(_ message: ServerMessage) -> Effects {
        var effects = Effects()
        switch message {
        case .transition(let transition):
            apply(transition, &effects)
        case .mutationResponse(.success(let id, let result, let ts, _)):
            guard requests[id]?.kind == .mutation else { return unknownRequest(id) }
            requests[id]!.committed = (ts, result)
            observe(ts)
            // The state shown may already contain the commit (the Transition came first).
            if ts <= shownTimestamp {
                finishCommittedMutations(upTo: shownTimestamp, &effects)
                effects.updates = refreshView()
            }
        case .mutationResponse(.failure(let id, let message, let data, _)):
            guard requests[id]?.kind == .mutation else { return unknownRequest(id) }
            finish(id, .failure(message: message, data: data), &effects)
            effects.updates = refreshView()
        case .actionResponse(.success(let id, let result, _)):
            guard requests[id]?.kind == .action else { return unknownRequest(id) }
            finish(id, .success(result), &effects)
        case .actionResponse(.failure(let id, let message, let data, _)):
            guard requests[id]?.kind == .action else { return unknownRequest(id) }
            finish(id, .failure(message: message, data: data), &effects)
        case .authError(let error, _, let authUpdateAttempted):
            effects.authRefused = (error, authUpdateAttempted)
        case .fatalError(let error):
            effects.reconnectReason = "FatalError: \(error)"
        case .ping:
            break
        }
        return effects
    }

    private func unknownRequest(_ id: UInt32) -> Effects {
        var effects = Effects()
        effects.reconnectReason = "a response to request \(id), which is not in flight"
        return effects
    }

    private mutating func apply(_ transition: Transition, _ effects: inout Effects) {
        guard transition.startVersion == remoteVersion else {
            effects.reconnectReason = "Transition starts at \(transition.startVersion), the client is at \(remoteVersion)"
            return
        }
        effects.sawTransition = true
        for modification in transition.modifications {
            // Results for a query removed locally while the server was answering are dropped.
            guard let token = tokens[modification.queryId] else { continue }
            switch modification {
            case .queryUpdated(let id, let value, _, let journal):
                remoteResults[id] = .value(value)
                queries[token]?.journal = journal
            case .queryFailed(let id, let message, _, let journal, let data):
                remoteResults[id] = .failure(message: message, data: data)
                queries[token]?.journal = journal
            case .queryRemoved(let id):
                remoteResults[id] = nil
            }
        }
        if transition.endVersion.identity > transition.startVersion.identity { effects.authConfirmed = true }
        remoteVersion = transition.endVersion
        let ts = transition.endVersion.ts
        observe(ts)
        guard ts >= shownTimestamp else { return }
        shownTimestamp = ts
        shownResults = remoteResults
        finishCommittedMutations(upTo: ts, &effects)
        effects.updates = refreshView()
    }

    private mutating func finishCommittedMutations(upTo ts: UInt64, _ effects: inout Effects) {
        for id in requests.keys.sorted() {
            if let committed = requests[id]?.committed, committed.ts <= ts { finish(id, .success(committed.result), &effects) }
        }
    }

    private mutating func finish(_ id: UInt32, _ outcome: RequestOutcome, _ effects: inout Effects) {
        requests[id] = nil
        optimisticUpdates.removeAll { $0.requestId == id }
        effects.finished.append((requestId: id, outcome: outcome))
    }

    private mutating func observe(_ ts: UInt64) {
        maxObservedTimestamp = max(maxObservedTimestamp ?? 0, ts)
    }

    private mutating func modifyQuerySet(_ modifications: [QuerySetModification]) -> ClientMessage {
        let base = querySetVersion
        querySetVersion += 1
        return .modifyQuerySet(baseVersion: base, newVersion: querySetVersion, modifications: modifications)
    }

    /// Recomputes what subscribers see (server results, then each pending optimistic update in
    /// order) and returns the queries whose outcome changed.
    private mutating func refreshView() -> [(QueryToken, QueryOutcome)] {
        var results: [QueryToken: QueryOutcome] = [:]
        for (token, query) in queries {
            if let outcome = shownResults[query.id] { results[token] = outcome }
        }
        var store = OptimisticLocalStore(subscribed: Set(queries.keys), results: results)
        for (_, update) in optimisticUpdates { update(&store) }
        var changed: [(QueryToken, QueryOutcome)] = []
        for token in queries.keys {
            let outcome = store.results[token]
            guard outcome != view[token] else { continue }
            view[token] = outcome
            if let outcome { changed.append((token, outcome)) }
        }
        return changed
    }
}
