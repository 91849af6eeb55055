import Foundation
import Logging
import RippleAuth
import RippleEngine
import RippleLog
import RippleProtocol
import RippleValues

/// How a socket must end after a protocol violation.
struct SessionEnd: Error {
    /// Sent before closing, if any (FatalError or AuthError).
    let message: ServerMessage?
    let reason: String
}

/// The protocol state of one WebSocket (protocol.md §10): versions, identity, the serial
/// mutation lane. Every socket is a fresh session; only remembered mutation results outlive it.
actor SyncSession {
    let id: SessionID
    let hub: SubscriptionHub
    let engine: Engine
    let authenticator: Authenticator
    let logger: Logger
    let limits: SyncLimits
    /// The newest commit timestamp this node knows exists: its own on the writer, the writer's
    /// announced one on a replica. A client claiming to have seen a newer one is refused.
    let latestKnownTimestamp: @Sendable () async throws -> CommitTimestamp
    private let send: @Sendable (ServerMessage) -> Void

    private var connected = false
    private var clientSessionID = ""
    private var querySetVersion: UInt32 = 0
    private var queryIds = Set<UInt32>()
    private var authenticateCount: UInt32 = 0
    private var identity: Identity = .anonymous
    /// When the user token behind `identity` runs out; kept after it has, to refuse mutations.
    private var tokenDeadline: TokenDeadline?
    /// Running actions by a per-socket number; each removes itself when answered.
    private var actions: [Int: Task<Void, Never>] = [:]
    private var nextAction = 0
    /// Closes the socket if this node has not caught up with the client's Connect in time.
    private var catchUpDeadline: Task<Void, Never>?

    init(
        id: SessionID, hub: SubscriptionHub, engine: Engine, authenticator: Authenticator, logger: Logger,
        limits: SyncLimits = SyncLimits(), latestKnownTimestamp: (@Sendable () async throws -> CommitTimestamp)? = nil,
        send: @escaping @Sendable (ServerMessage) -> Void
    ) {
        self.limits = limits
        self.latestKnownTimestamp = latestKnownTimestamp ?? { try await engine.latestTimestamp() }
        self.id = id
        self.hub = hub
        self.engine = engine
        self.authenticator = authenticator
        self.logger = logger
        self.send = send
    }

    /// Handles one client message in arrival order. Throws `SessionEnd` when the socket must close.
    func handle(_ message: ClientMessage) async throws(SessionEnd) {
        if case .connect(let connect) = message {
            guard !connected else { throw fatal("Connect was sent twice on one socket") }
            connected = true
            clientSessionID = connect.sessionId
            if let clientTs = connect.clientTs, clientTs > 0 {
                await hub.setClockSkew(id, Int64(Date().timeIntervalSince1970 * 1000) - clientTs)
            }
            if let observed = connect.maxObservedTimestamp { try await catchUp(to: CommitTimestamp(nanoseconds: observed)) }
            return
        }
        guard connected else { throw fatal("The first message on a socket must be Connect, got \(message.typeName)") }
        switch message {
        case .connect: break
        case .modifyQuerySet(let base, let new, let modifications):
            try await modifyQuerySet(base: base, new: new, modifications: modifications)
        case .authenticate(let base, let token):
            try await authenticate(base: base, token: token)
        case .mutation(let requestId, let path, let args, _):
            try checkIdentityFresh()
            await runMutation(requestId: requestId, path: path, args: args.objectValue ?? [:])
        case .action(let requestId, let path, let args, _):
            try checkIdentityFresh()
            startAction(requestId: requestId, path: path, args: args.objectValue ?? [:])
        case .event:
            break
        }
    }

    /// A client that has seen state up to `ts` must never be shown older state. As Convex does,
    /// a `ts` beyond any this deployment knows of is refused (the client met another deployment,
    /// or invents timestamps). Otherwise `ts` is the session's floor in the hub, kept even when
    /// this node has processed it (a snapshot install may take the node back below it). Only a
    /// replica can be behind: the hub holds the session's Transitions until it has processed
    /// `ts` — the message loop goes on, nothing waits — and the socket is closed if that takes
    /// longer than `catchUpTimeout`, so the client reconnects, perhaps to a node that is not behind.
    private func catchUp(to ts: CommitTimestamp) async throws(SessionEnd) {
        let latest: CommitTimestamp
        do {
            latest = try await latestKnownTimestamp()
        } catch {
            throw fatal("The server could not read its latest timestamp; reconnect")
        }
        guard ts <= latest else {
            throw fatal("Client has observed a timestamp \(ts) ahead of this deployment's latest known timestamp \(latest)")
        }
        await hub.showNothingBefore(id, timestamp: ts)
        guard !(await hub.hasProcessed(ts)) else { return }
        let timeout = limits.catchUpTimeout
        catchUpDeadline = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            await self?.catchUpExpired(ts)
        }
    }

    private func catchUpExpired(_ ts: CommitTimestamp) async {
        guard !(await hub.hasProcessed(ts)) else { return }
        logger.info("closing sync socket: this node did not reach the client's ts \(ts) in time")
        send(.fatalError(error: "This node has not caught up with the state the client has seen (timestamp \(ts)) in time; reconnect"))
    }

    /// Ends the session: unsubscribes everything and cancels running actions.
    func close() async {
        tokenDeadline?.cancel()
        catchUpDeadline?.cancel()
        for action in actions.values { action.cancel() }
        actions.removeAll()
        await hub.closeSession(id)
    }

    private func fatal(_ text: String) -> SessionEnd {
        SessionEnd(message: .fatalError(error: text), reason: text)
    }

    // MARK: - Query set

    private func modifyQuerySet(base: UInt32, new: UInt32, modifications: [QuerySetModification]) async throws(SessionEnd) {
        guard base == querySetVersion else {
            throw fatal("BaseVersionMismatch: ModifyQuerySet baseVersion \(base) does not match the current query set version \(querySetVersion)")
        }
        guard new > base else { throw fatal("ModifyQuerySet newVersion \(new) must be greater than baseVersion \(base)") }
        await expireTokenIfDue()
        var ids = queryIds
        for modification in modifications {
            switch modification {
            case .add(let queryId, _, _, _, _):
                guard ids.insert(queryId).inserted else { throw fatal("Duplicate query ID: \(queryId)") }
            case .remove(let queryId):
                guard ids.remove(queryId) != nil else { throw fatal("Remove of unknown query ID: \(queryId)") }
            }
        }
        guard ids.count <= limits.maxQueriesPerSocket else { throw fatal(LimitExceeded.queriesPerSocket(limits.maxQueriesPerSocket)) }
        queryIds = ids
        querySetVersion = new
        await hub.modifyQuerySet(id, newVersion: new, modifications: modifications)
    }

    // MARK: - Auth

    private func authenticate(base: UInt32, token: AuthenticationToken) async throws(SessionEnd) {
        guard base == authenticateCount else {
            throw fatal("Authenticate baseVersion \(base) does not match the identity version \(authenticateCount)")
        }
        let newIdentity: Identity
        var expiry: Date?
        switch token {
        case .none:
            newIdentity = .anonymous
        case .user(let jwt):
            do {
                let verified = try await authenticator.verify(userToken: jwt)
                newIdentity = .user(Self.engineIdentity(verified))
                expiry = verified.expiresAt
            } catch {
                throw SessionEnd(message: .authError(error: error.description, baseVersion: base, authUpdateAttempted: true), reason: "auth failed")
            }
        case .admin(let key, let impersonating):
            guard authenticator.isAdminKey(key) else {
                throw SessionEnd(
                    message: .authError(error: "The admin key is not valid for this deployment", baseVersion: base, authUpdateAttempted: true),
                    reason: "bad admin key")
            }
            newIdentity = .admin(actingAs: impersonating.flatMap(Self.actingAs))
        }
        authenticateCount += 1
        identity = newIdentity
        tokenDeadline?.cancel()
        tokenDeadline = expiry.map { expiresAt in
            TokenDeadline(expiresAt: expiresAt, leeway: authenticator.clockLeeway) { Task { await self.expireTokenIfDue() } }
        }
        await hub.setIdentity(id, newIdentity, version: authenticateCount)
    }

    /// Convex's words when a session's token has run out.
    static let tokenExpiredMessage = "Convex token identity expired"

    /// Once the token has run out, its user's data stops flowing: the session's queries go on as
    /// anonymous and the client hears `AuthError` (not attempted: it should fetch a fresh token
    /// and authenticate again). Runs at the deadline and before each query-set change.
    private func expireTokenIfDue() async {
        guard let tokenDeadline, tokenDeadline.hasPassed(), case .user = identity else { return }
        identity = .anonymous
        send(.authError(error: Self.tokenExpiredMessage, baseVersion: authenticateCount, authUpdateAttempted: false))
        await hub.setIdentity(id, .anonymous, version: authenticateCount)
    }

    /// Mutations and actions never run under a token that has run out, nor silently as anonymous.
    private func checkIdentityFresh() throws(SessionEnd) {
        if let tokenDeadline, tokenDeadline.hasPassed() {
            throw SessionEnd(
                message: .authError(error: Self.tokenExpiredMessage, baseVersion: authenticateCount, authUpdateAttempted: false),
                reason: "token expired")
        }
    }

    /// The engine's view of a verified user: the Convex `UserIdentity` fields.
    static func engineIdentity(_ verified: RippleAuth.UserIdentity) -> RippleEngine.UserIdentity {
        RippleEngine.UserIdentity(subject: verified.subject, issuer: verified.issuer, claims: verified.asValue.objectValue ?? [:])
    }

    /// Admin "acting as" attributes (`UserIdentityAttributes`) as an engine identity.
    static func actingAs(_ attributes: JSON) -> RippleEngine.UserIdentity? {
        guard let value = try? Value(convexJSON: attributes), case .object(let fields) = value else { return nil }
        let subject = fields["subject"]?.stringValue ?? ""
        let issuer = fields["issuer"]?.stringValue ?? ""
        return RippleEngine.UserIdentity(subject: subject, issuer: issuer, claims: fields)
    }

    // MARK: - Mutations and actions

    private func runMutation(requestId: UInt32, path: String, args: [String: Value]) async {
        do throws(FunctionError) {
            let request = ClientRequest(session: clientSessionID, id: requestId)
            let result = try await engine.mutation(path, args, identity: identity, request: request)
            send(.mutationResponse(.success(requestId: requestId, result: result.value, ts: result.ts.nanoseconds, logLines: [])))
            await hub.owe(id, timestamp: result.ts)
        } catch {
            send(.mutationResponse(.failure(requestId: requestId, message: error.message, errorData: error.data, logLines: [])))
            // A failed mutation still gets a Transition, so clients waiting on one are released.
            await hub.owe(id, timestamp: 0)
        }
    }

    /// Runs an action beside the message loop (actions may take long); at most
    /// `maxActionsInFlightPerSocket` at once, a further one is answered with an error at once.
    private func startAction(requestId: UInt32, path: String, args: [String: Value]) {
        guard actions.count < limits.maxActionsInFlightPerSocket else {
            let message = LimitExceeded.actionsInFlight(limits.maxActionsInFlightPerSocket)
            send(.actionResponse(.failure(requestId: requestId, message: message, errorData: nil, logLines: [])))
            return
        }
        let identity = self.identity
        let engine = self.engine
        let send = self.send
        let number = nextAction
        nextAction += 1
        actions[number] = Task {
            let response: ActionResponse
            do throws(FunctionError) {
                response = .success(requestId: requestId, result: try await engine.action(path, args, identity: identity), logLines: [])
            } catch {
                response = .failure(requestId: requestId, message: error.message, errorData: error.data, logLines: [])
            }
            // The slot is free before the client hears back, so it may start another at once.
            self.actionFinished(number)
            send(.actionResponse(response))
        }
    }

    private func actionFinished(_ number: Int) {
        actions[number] = nil
    }

    /// Actions started and not yet answered, for tests.
    var actionsInFlight: Int { actions.count }
}
