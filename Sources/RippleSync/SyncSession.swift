import Foundation
import Logging
import RippleAuth
import RippleEngine
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
    private let send: @Sendable (ServerMessage) -> Void

    private var connected = false
    private var clientSessionID = ""
    private var querySetVersion: UInt32 = 0
    private var queryIds = Set<UInt32>()
    private var authenticateCount: UInt32 = 0
    private var identity: Identity = .anonymous
    /// When the user token behind `identity` runs out; kept after it has, to refuse mutations.
    private var tokenDeadline: TokenDeadline?
    private var actions: [Task<Void, Never>] = []

    init(
        id: SessionID, hub: SubscriptionHub, engine: Engine, authenticator: Authenticator, logger: Logger,
        send: @escaping @Sendable (ServerMessage) -> Void
    ) {
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
            if let observed = connect.maxObservedTimestamp { await waitUntilApplied(observed) }
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

    /// A client that has seen state up to `ts` must never be shown older state: hold its
    /// session until this node has applied `ts`. A replica waits as long as it takes (it is
    /// catching up from the writer). The writer cannot be behind its own clients unless its data
    /// was rolled back (a restored backup); after `patience` it serves what it has and logs it.
    private func waitUntilApplied(_ ts: UInt64, patience: Duration = .seconds(10)) async {
        if !engine.isWriter {
            await engine.waitUntilApplied(ts)
            return
        }
        let deadline = ContinuousClock.now + patience
        while let latest = try? await engine.latestTimestamp(), latest < ts {
            guard ContinuousClock.now < deadline else {
                logger.warning("client has seen ts \(ts) but this writer is at \(latest) (rolled-back data?); serving anyway")
                return
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Ends the session: unsubscribes everything and cancels running actions.
    func close() async {
        tokenDeadline?.cancel()
        for action in actions { action.cancel() }
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
            send(.mutationResponse(.success(requestId: requestId, result: result.value, ts: result.ts, logLines: [])))
            await hub.owe(id, timestamp: result.ts)
        } catch {
            send(.mutationResponse(.failure(requestId: requestId, message: error.message, errorData: error.data, logLines: [])))
            // A failed mutation still gets a Transition, so clients waiting on one are released.
            await hub.owe(id, timestamp: 0)
        }
    }

    private func startAction(requestId: UInt32, path: String, args: [String: Value]) {
        let identity = self.identity
        let engine = self.engine
        let send = self.send
        actions.removeAll { $0.isCancelled }
        actions.append(
            Task {
                do throws(FunctionError) {
                    let value = try await engine.action(path, args, identity: identity)
                    send(.actionResponse(.success(requestId: requestId, result: value, logLines: [])))
                } catch {
                    send(.actionResponse(.failure(requestId: requestId, message: error.message, errorData: error.data, logLines: [])))
                }
            })
    }
}
