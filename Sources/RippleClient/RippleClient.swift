import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import RippleProtocol
import RippleValues
import Synchronization

/// Answers with the current auth token (a JWT), or `nil` for none. `forceRefresh` is true when
/// the token in hand is about to expire or the server refused it: return a newly issued one.
public typealias AuthTokenFetcher = @Sendable (_ forceRefresh: Bool) async throws -> String?

/// A client of a Ripple node, or of any backend speaking the Convex sync protocol: live queries,
/// mutations and actions over one WebSocket, typed by `FunctionReference`s.
///
///     let client = try RippleClient(url: "http://127.0.0.1:3210")
///     for try await messages in client.subscribe(Messages.list, .init(channelId: id)) { … }
///     let id = try await client.mutation(Messages.send, .init(channelId: id, body: "hi"))
///
/// The connection is opened on first use and kept: after a drop the client reconnects with
/// backoff under the same session, re-subscribes, resends unfinished mutations (the server runs
/// each at most once) and never shows a result older than one it has shown.
public actor RippleClient {
    /// Settings with defaults that suit an app; documented in docs/client.md.
    public struct Configuration: Sendable {
        /// Waits between reconnection attempts.
        public var backoff = ReconnectBackoff()
        /// How long before a token's `exp` the fetcher is asked for a new one.
        public var tokenRefreshLeeway: Duration = .seconds(10)
        /// Results a subscription keeps for a slow reader before it skips to newer ones.
        public var subscriptionBufferSize = 64
        /// The largest message accepted from the server (a Transition carries whole query results).
        public var maxMessageSize = 32 << 20
        /// Silence after which the connection is taken for dead and replaced. Servers send a JSON
        /// `Ping` after 15 s without other messages; the JS client waits 60 s, as here.
        public var serverInactivityTimeout: Duration = .seconds(60)

        public init() {}
    }

    /// The sync endpoint, `ws(s)://host:port/api/sync`.
    public nonisolated let url: String
    public nonisolated let configuration: Configuration
    /// Kept across reconnects: the server deduplicates resent mutations by (sessionId, requestId).
    public nonisolated let sessionId = UUID().uuidString.lowercased()
    let logger: Logger

    var state = SyncState()
    private var subscribers: [QueryToken: [Int: Subscriber]] = [:]
    private var nextSubscriberId = 0
    private var pendingCalls: [UInt32: PendingCall] = [:]
    private var lifecycle = Lifecycle.idle
    private var outbox: AsyncStream<Outbound>.Continuation?
    private var connectionCount: UInt32 = 0
    private var lastCloseReason = "InitialConnect"
    /// Why the client is closing the current socket, if it is.
    private var closeReason: String?
    /// Connection attempts in a row that ended before a Transition arrived.
    private var failures = 0
    var auth = AuthState()
    /// Fires at most once per `serverInactivityTimeout` while a socket is open; a message does not
    /// re-arm it (that cost a timer and an event-loop wake-up per message), the timer re-arms
    /// itself for the rest of the timeout when the server was heard from since.
    private var inactivityTimer: Scheduled<Void>?
    /// When the current socket last heard from the server.
    private var lastHeard = ContinuousClock.now

    private enum Lifecycle {
        case idle
        case running(Task<Void, Never>)
        case closed
    }

    private struct Subscriber {
        let deliver: @Sendable (QueryOutcome) -> Void
        let end: @Sendable () -> Void
    }

    private struct PendingCall {
        let path: String
        let resume: (Swift.Result<Value, RippleClientError>) -> Void
    }

    private enum Outbound {
        case text(String)
        case close
    }

    /// The token fetcher and what it has led to; `generation` tells a finished fetch whether it is still wanted.
    struct AuthState {
        var fetcher: AuthTokenFetcher?
        var onChange: (@Sendable (Bool) -> Void)?
        var generation = 0
        /// Fresh tokens the server refused in a row; after two the client gives up, as JS does.
        var refusals = 0
        var refreshTimer: Scheduled<Void>?
    }

    /// `url` is the deployment's address (`http(s)://…`, or `ws(s)://…`); the client talks to its
    /// `/api/sync` endpoint.
    public init(url: String, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "ripple.client")) throws {
        self.url = try Self.syncURL(url)
        self.configuration = configuration
        self.logger = logger
    }

    static func syncURL(_ address: String) throws -> String {
        guard var components = URLComponents(string: address), let scheme = components.scheme?.lowercased(), components.host != nil else {
            throw RippleClientError.invalidRequest(path: address, reason: "not a URL with a scheme and a host")
        }
        switch scheme {
        case "http", "ws": components.scheme = "ws"
        case "https", "wss": components.scheme = "wss"
        default: throw RippleClientError.invalidRequest(path: address, reason: "the scheme must be http, https, ws or wss")
        }
        components.path = "/api/sync"
        components.query = nil
        guard let url = components.string else { throw RippleClientError.invalidRequest(path: address, reason: "not a valid URL") }
        return url
    }

    // MARK: - Calls

    /// Subscribes to a query: the sequence yields its current result and every change after.
    public nonisolated func subscribe<Args, Result>(_ query: QueryReference<Args, Result>, _ args: Args) -> QuerySubscription<Result> {
        let (stream, continuation) = AsyncThrowingStream<Result, any Error>.makeStream(
            bufferingPolicy: .bufferingNewest(max(1, configuration.subscriptionBufferSize)))
        let token: QueryToken
        do {
            token = try QueryToken(query, args)
        } catch {
            continuation.finish(throwing: error)
            return QuerySubscription(stream: stream, lease: SubscriptionLease {})
        }
        let subscriber = Subscriber(
            deliver: { outcome in
                switch query.decode(outcome) {
                case .success(let result): continuation.yield(result)
                case .failure(let error): continuation.finish(throwing: error)
                }
            },
            end: { continuation.finish(throwing: RippleClientError.closed) })
        let registration = Task { await self.addSubscriber(token, subscriber) }
        let lease = SubscriptionLease {
            Task {
                guard let id = await registration.value else { return }
                await self.removeSubscriber(token, id)
            }
        }
        // Weak: the subscriber's closures hold the continuation, so a strong lease here would
        // keep it alive after the last reader is gone, and the subscription would never end.
        continuation.onTermination = { [weak lease] _ in lease?.end() }
        return QuerySubscription(stream: stream, lease: lease)
    }

    /// The query's result now: subscribes, takes the first result, unsubscribes (as the Rust client).
    public func query<Args, Result>(_ query: QueryReference<Args, Result>, _ args: Args) async throws -> Result {
        let token = try QueryToken(query, args)
        var subscriberId: Int?
        let outcome: QueryOutcome = try await withCheckedThrowingContinuation { continuation in
            let first = FirstOutcome(continuation)
            subscriberId = addSubscriber(token, Subscriber(deliver: { first.resume(.success($0)) }, end: { first.resume(.failure(.closed)) }))
        }
        if let subscriberId { removeSubscriber(token, subscriberId) }
        return try query.decode(outcome).get()
    }

    /// Runs a mutation. `optimisticUpdate` changes the client's query results at once; the change
    /// is rolled back if the mutation fails and replaced by the server's results once its commit
    /// arrives. Returns when a result containing the commit is shown to subscribers.
    public func mutation<Args, Result>(
        _ mutation: MutationReference<Args, Result>, _ args: Args, optimisticUpdate: OptimisticUpdate? = nil
    ) async throws -> Result {
        let request = try WireRequest(mutation, args)
        let value = try await call(path: mutation.path) { state in
            state.mutate(udfPath: request.udfPath, args: request.args, optimisticUpdate: optimisticUpdate)
        }
        return try mutation.decode(value).get()
    }

    /// Runs an action. An action in flight when the connection drops fails with
    /// `connectionLostDuringAction` and is not resent.
    public func action<Args, Result>(_ action: ActionReference<Args, Result>, _ args: Args) async throws -> Result {
        let request = try WireRequest(action, args)
        let value = try await call(path: action.path) { state in state.act(udfPath: request.udfPath, args: request.args) }
        return try action.decode(value).get()
    }

    private func call(path: String, start: (inout SyncState) -> (UInt32, SyncState.Effects)) async throws -> Value {
        guard startIfNeeded() else { throw RippleClientError.closed }
        return try await withCheckedThrowingContinuation { continuation in
            let (id, effects) = start(&state)
            pendingCalls[id] = PendingCall(path: path) { continuation.resume(with: $0) }
            perform(effects)
        }
    }

    // MARK: - Lifecycle

    /// Ends every subscription and fails every unfinished call with `RippleClientError.closed`.
    public func close() {
        guard case .running(let task) = lifecycle else {
            lifecycle = .closed
            return
        }
        lifecycle = .closed
        dropAuth()
        perform(state.close())
        for subscriber in subscribers.values.flatMap(\.values) { subscriber.end() }
        subscribers = [:]
        outbox?.yield(.close)
        outbox?.finish()
        task.cancel()
    }

    /// Opens the connection on first use; false once closed.
    private func startIfNeeded() -> Bool {
        switch lifecycle {
        case .closed: return false
        case .running: return true
        case .idle:
            lifecycle = .running(Task { await self.maintainConnection() })
            return true
        }
    }

    private var isClosed: Bool {
        if case .closed = lifecycle { return true }
        return false
    }

    /// Connects, serves the socket until it ends, waits out the backoff, and again, until closed.
    private func maintainConnection() async {
        var wsConfiguration = WebSocketClientConfiguration()
        wsConfiguration.maxFrameSize = configuration.maxMessageSize
        while !isClosed {
            let (outgoing, outbox) = AsyncStream<Outbound>.makeStream()
            self.outbox = outbox
            var reason: String
            do {
                let closeFrame = try await WebSocketClient.connect(url: url, configuration: wsConfiguration, logger: logger) {
                    inbound, outbound, _ in
                    try await self.serve(inbound: inbound, outbound: outbound, outgoing: outgoing)
                }
                reason = closeFrame.map { "closed with code \($0.closeCode)" } ?? "closed"
            } catch {
                reason = "\(error)"
            }
            inactivityTimer?.cancel()
            inactivityTimer = nil
            if let closeReason { reason = closeReason }
            closeReason = nil
            self.outbox = nil
            state.socketClosed()
            lastCloseReason = reason
            failures += 1
            guard !isClosed else { return }
            logger.debug("sync socket ended (\(reason)); reconnecting")
            try? await Task.sleep(for: configuration.backoff.delay(afterFailures: failures, jitter: Double.random(in: 0...1)))
        }
    }

    private nonisolated func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, outgoing: AsyncStream<Outbound>) async throws {
        await socketOpened()
        let maxSize = configuration.maxMessageSize
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await item in outgoing {
                    guard case .text(let text) = item else { return }
                    try await outbound.write(.text(text))
                }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: maxSize) {
                    guard case .text(let text) = message else {
                        await self.closeSocket(reason: "Invalid message: a binary frame")
                        return
                    }
                    await self.received(text)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func socketOpened() {
        let connect = Connect(
            sessionId: sessionId, connectionCount: connectionCount, lastCloseReason: lastCloseReason,
            maxObservedTimestamp: state.maxObservedTimestamp, clientTs: Int64(Date().timeIntervalSince1970 * 1000))
        connectionCount += 1
        heardFromServer()
        outbox?.yield(.text(ClientMessage.connect(connect).serialized()))
        perform(state.socketOpened())
    }

    private func heardFromServer() {
        lastHeard = .now
        if inactivityTimer == nil { armInactivityTimer(after: configuration.serverInactivityTimeout) }
    }

    private func armInactivityTimer(after delay: Duration) {
        let socket = connectionCount
        inactivityTimer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(delay)) {
            _ = Task { await self.inactivityTimerFired(socket: socket) }
        }
    }

    /// Closes the socket if the server has been silent for the whole timeout, else waits out the rest.
    private func inactivityTimerFired(socket: UInt32) {
        // A timer of a socket that has ended since (its timer was cancelled, or fired meanwhile).
        guard socket == connectionCount, inactivityTimer != nil else { return }
        inactivityTimer = nil
        let silence = ContinuousClock.now - lastHeard
        if silence >= configuration.serverInactivityTimeout {
            closeSocket(reason: "InactiveServer")
        } else {
            armInactivityTimer(after: configuration.serverInactivityTimeout - silence)
        }
    }

    private func received(_ text: String) {
        heardFromServer()
        let message: ServerMessage
        do {
            message = try ServerMessage.parse(text)
        } catch {
            closeSocket(reason: "Invalid message: \(error)")
            return
        }
        perform(state.receive(message))
    }

    func closeSocket(reason: String) {
        closeReason = reason
        outbox?.yield(.close)
    }

    /// Carries out what the protocol state asks for: send, show, finish, in that order, so a
    /// caller whose mutation returns already finds its write in every subscription.
    func perform(_ effects: SyncState.Effects) {
        for message in effects.send { outbox?.yield(.text(message.serialized())) }
        for (token, outcome) in effects.updates {
            for subscriber in (subscribers[token] ?? [:]).values { subscriber.deliver(outcome) }
        }
        for (id, outcome) in effects.finished {
            guard let call = pendingCalls.removeValue(forKey: id) else { continue }
            switch outcome {
            case .success(let value): call.resume(.success(value))
            case .failure(let message, let data): call.resume(.failure(.functionFailed(path: call.path, message: message, data: data)))
            case .connectionLost: call.resume(.failure(isClosed ? .closed : .connectionLostDuringAction(path: call.path)))
            }
        }
        if effects.sawTransition { failures = 0 }
        if effects.authConfirmed {
            auth.refusals = 0
            auth.onChange?(true)
        }
        if let refused = effects.authRefused { Task { await self.authRefused(refused.error) } }
        if let reason = effects.reconnectReason {
            logger.warning("reconnecting: \(reason)")
            closeSocket(reason: reason)
        }
    }

    // MARK: - Subscribers

    /// Registers a subscriber and shows it the query's current result if one is known; `nil` once closed.
    private func addSubscriber(_ token: QueryToken, _ subscriber: Subscriber) -> Int? {
        guard startIfNeeded() else {
            subscriber.end()
            return nil
        }
        let id = nextSubscriberId
        nextSubscriberId += 1
        subscribers[token, default: [:]][id] = subscriber
        perform(state.subscribe(token))
        if let outcome = state.currentOutcome(token) { subscriber.deliver(outcome) }
        return id
    }

    private func removeSubscriber(_ token: QueryToken, _ id: Int) {
        guard subscribers[token]?.removeValue(forKey: id) != nil else { return }
        if subscribers[token]?.isEmpty == true { subscribers[token] = nil }
        perform(state.unsubscribe(token))
    }
}

/// Resumes a continuation with the first outcome only; a one-shot query's subscriber may be
/// told again before it is removed.
private final class FirstOutcome: Sendable {
    private let continuation: Mutex<CheckedContinuation<QueryOutcome, any Error>?>

    init(_ continuation: CheckedContinuation<QueryOutcome, any Error>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ result: Swift.Result<QueryOutcome, RippleClientError>) {
        let continuation = self.continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }
        continuation?.resume(with: result.mapError { $0 as any Error })
    }
}
