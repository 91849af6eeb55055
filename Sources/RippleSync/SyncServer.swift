import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import RippleAuth
import NIOCore
import NIOPosix
import NIOWebSocket
import RippleEngine
import RippleListener
import RippleLog
import RippleProtocol
import RippleValues

/// A node's client-facing server: the Convex sync WebSocket at `/api/sync` (and
/// `/api/{version}/sync`), the HTTP API, and health/version endpoints.
public struct SyncServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// What one client may make the node hold (`RIPPLE_MAX_*`).
        public var limits = SyncLimits()
        /// How often a JSON `Ping` is sent (clients give up after 30–60 s without a message).
        public var pingInterval: Duration = .seconds(15)
        /// How often a WebSocket ping frame is sent; a socket whose client has not answered the
        /// previous one by then is closed going-away (a dead client holds no socket for long).
        public var webSocketPingPeriod: Duration = .seconds(5)
        public var version = "ripple-0.1.0"
        /// `dev`, `writer`, `replica` or `scheduler`, reported by `/health`.
        public var role = "dev"
        public var nodeID = "dev"
        /// The Prometheus text for `/metrics` when the process has a metrics backend; nil serves
        /// the hub's own counters.
        public var metricsText: (@Sendable () -> String)?
        /// Extra `/health` fields from the replication layer (replica lag, connected replicas).
        public var replicationStatus: @Sendable () async -> [(String, JSON)] = { [] }
        /// The newest commit timestamp the deployment is known to have: on a replica, the
        /// writer's announced one. `nil` uses the engine's latest (right on the writer).
        public var latestKnownTimestamp: (@Sendable () async throws -> CommitTimestamp)?
        /// The event loops the server accepts and serves on; tests give it a group of their own.
        public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    let engine: Engine
    let authenticator: Authenticator
    let configuration: Configuration
    let logger: Logger
    let hub: SubscriptionHub
    let admission: SocketAdmission

    /// Wires the server to an engine: commits flow to the subscription hub in commit order.
    public static func make(
        engine: Engine, authenticator: Authenticator, configuration: Configuration, logger: Logger
    ) async throws -> SyncServer {
        let start = try await engine.latestTimestamp()
        let hub = SubscriptionHub(
            engine: engine, startTimestamp: start, logger: logger, maxQueriesPerRound: configuration.limits.maxQueriesPerRound)
        let (commits, continuation) = AsyncStream<CommitGroup>.makeStream()
        engine.commitFeed.subscribe { continuation.yield($0) }
        Task {
            for await group in commits { await hub.ingest(group) }
        }
        return SyncServer(
            engine: engine, authenticator: authenticator, configuration: configuration, logger: logger, hub: hub,
            admission: SocketAdmission(limits: configuration.limits))
    }

    /// The client port as a Service: serves until cancelled or shut down gracefully (then it
    /// drains, `ClientListener`).
    public func listener(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> ClientListener {
        let accepted = AcceptedConnections<ClaimedChildChannel.Value> { await $0.finishUnclaimed() }
        let served = application(onServerRunning: onServerRunning, accepted: accepted)
        return ClientListener(application: served, admission: admission, accepted: accepted, logger: logger)
    }

    /// The Hummingbird application alone, for tests of its routes (`.test(.router)`); a node
    /// serves through `listener`.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        application(onServerRunning: onServerRunning, accepted: AcceptedConnections { await $0.finishUnclaimed() })
    }

    private func application(
        onServerRunning: @escaping @Sendable (Int) async -> Void, accepted: AcceptedConnections<ClaimedChildChannel.Value>
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: CORSMiddleware(allowOrigin: .originBased, allowHeaders: [.contentType, .authorization, .init("Convex-Client")!],
                                              allowMethods: [.get, .post, .options], allowCredentials: false))
        router.get("/") { _, _ in "This Ripple deployment is running.\n" }
        router.get("/version") { _, _ in configuration.version }
        router.get("/instance_version") { _, _ in configuration.version }
        router.get("/instance_name") { _, _ in "ripple" }
        router.get("/health") { _, _ in
            let ts = try await engine.appliedTimestamp()
            var fields: [(String, JSON)] = [
                ("status", .string("ok")), ("role", .string(configuration.role)), ("nodeId", .string(configuration.nodeID)),
                ("appliedTs", .string(String(ts))), ("ts", .string(WireTimestamp.encode(ts.nanoseconds))),
            ]
            if let stopped = engine.writesStoppedReason { fields.append(("writesStopped", .string(stopped.message))) }
            fields += await configuration.replicationStatus()
            return HTTPAPI.json(.ok, .object(fields))
        }
        router.get("/admin/hash") { request, _ in
            guard let header = request.headers[.authorization], header.lowercased().hasPrefix("convex "),
                authenticator.isAdminKey(String(header.dropFirst(7)))
            else {
                return HTTPAPI.json(.unauthorized, .object([("code", .string("Unauthenticated")), ("message", .string("admin key required"))]))
            }
            guard let ts = request.uri.queryParameters["ts"].flatMap({ CommitTimestamp(String($0)) }) else {
                return HTTPAPI.json(.badRequest, .object([("code", .string("BadRequest")), ("message", .string("?ts=<nanoseconds> required"))]))
            }
            // Wait (bounded) until this node has applied `ts`; the hash is only defined exactly there,
            // and on a cluster with background commits (the scheduler's lease) the node is at `ts`
            // only until the next one, so the hash is read as soon as the commit lands.
            _ = await engine.waitUntilApplied(ts, timeout: .seconds(30))
            guard let hash = try await engine.stateHash(at: ts) else {
                let at = try await engine.appliedTimestamp()
                return HTTPAPI.json(.conflict, .object([("code", .string("NotAtTimestamp")), ("message", .string("this node is at \(at), not \(ts)"))]))
            }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: hash + "\n")))
        }
        router.get("/metrics") { _, _ in
            if let metricsText = configuration.metricsText {
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: metricsText())))
            }
            let reruns = await hub.rerunCount
            let live = await hub.liveQueryCount
            let sessions = await hub.sessionCount
            let ts = try await engine.appliedTimestamp()
            let text = """
                # HELP ripple_subscription_reruns_total Query executions done to keep subscriptions live (shared queries count once).
                # TYPE ripple_subscription_reruns_total counter
                ripple_subscription_reruns_total \(reruns)
                # HELP ripple_live_queries Distinct live queries.
                # TYPE ripple_live_queries gauge
                ripple_live_queries \(live)
                # HELP ripple_sync_sessions Open sync WebSockets.
                # TYPE ripple_sync_sessions gauge
                ripple_sync_sessions \(sessions)
                # HELP ripple_applied_timestamp_nanoseconds Commit timestamp of the latest applied state.
                # TYPE ripple_applied_timestamp_nanoseconds gauge
                ripple_applied_timestamp_nanoseconds \(ts)

                """
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        router.post("/echo") { request, _ in
            Response(status: .ok, body: ResponseBody(asyncSequence: request.body))
        }
        HTTPAPI(engine: engine, authenticator: authenticator, limits: configuration.limits).register(on: router)
        Dashboard(engine: engine, authenticator: authenticator, hub: hub, configuration: configuration, logger: logger).register(on: router)
        HTTPActionRoutes(engine: engine, authenticator: authenticator, maxBodySize: configuration.limits.maxMessageBytes).register(on: router)

        let sockets = Router(context: SyncRequestContext.self)
        for path in ["/api/sync", "/api/:version/sync"] {
            sockets.ws(RouterPath(path)) { _, _ in .upgrade([:]) } onUpgrade: { inbound, outbound, context in
                await serve(inbound: inbound, outbound: outbound, channel: context.requestContext.channel, from: context.requestContext.remoteAddress)
            }
        }
        var server = ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: configuration.version)
        server.serverName = configuration.version
        let webSocketResponder = sockets.buildResponder()
        let webSocketConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
            ws: .init(maxFrameSize: configuration.limits.maxMessageBytes, autoPing: .disabled))
        return Application(
            router: router,
            server: HTTPServerBuilder { responder in
                ClaimedChildChannel(
                    base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: webSocketConfiguration),
                    accepted: accepted)
            },
            configuration: server,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            eventLoopGroupProvider: .shared(configuration.eventLoopGroup),
            logger: logger
        )
    }

    /// One sync socket from `address`: a reader feeding the session in order, its outbox written
    /// in order (`SocketOutbox`), and a JSON ping every `pingInterval`. A
    /// socket beyond the node's socket limits gets a FatalError naming the limit, and closes; one
    /// opened while the server drains, or open when it begins to, is closed going-away.
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, from address: String?) async {
        await keepAlive(channel)
        // Set once the socket is asked to go away: from then on the reader drops what its client
        // sends, so nothing it sends after the going-away close (a mutation, a query) runs on a
        // node that is stopping or changing role.
        let goneAway = OneWayFlag()
        let goAway: @Sendable () async -> Void = {
            goneAway.set()
            // Only the client's answer ends a close handshake, and the WebSocket library's own
            // timeout starts after this handler returns, which it does not while it reads: a
            // client that never answers would hold the node's drain.
            channel.eventLoop.scheduleTask(in: Self.goingAwayGrace) { channel.close(promise: nil) }
            try? await outbound.close(.goingAway, reason: Self.goingAwayReason)
        }
        switch await admission.admit(address, goAway: goAway) {
        case .refused(let refusal):
            logger.info("refusing sync socket: \(refusal)")
            try? await outbound.write(.text(ServerMessage.fatalError(error: refusal).serialized()))
            try? await outbound.close(.policyViolation, reason: nil)
        case .draining:
            try? await outbound.close(.goingAway, reason: Self.goingAwayReason)
        case .admitted(let ticket):
            await serve(inbound: inbound, outbound: outbound, channel: channel, goneAway: goneAway)
            await admission.release(ticket)
        }
    }

    /// Adds `WebSocketKeepAlive` to an upgraded socket's pipeline, behind the frame decoder.
    private func keepAlive(_ channel: any Channel) async {
        let period = TimeAmount(configuration.webSocketPingPeriod)
        do {
            try await channel.eventLoop.submit {
                // Closed already (a client gone right after the upgrade): its handlers are removed.
                guard channel.isActive else { return }
                let pipeline = channel.pipeline.syncOperations
                let decoder = try pipeline.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
                try pipeline.addHandler(WebSocketKeepAlive(period: period), position: .after(decoder))
            }.get()
        } catch ChannelError.ioOnClosedChannel {
        } catch {
            logger.error("sync socket has no WebSocket keep-alive: \(error)")
        }
    }

    /// The close reason of a socket the server drains.
    static let goingAwayReason = "the node is stopping or changing role; reconnect"

    /// How long a socket asked to go away waits for its client's answering close before the
    /// server closes the connection: long enough for a client on a slow link to answer, short
    /// enough that a role change (`RIPPLE_ROLE_CHANGE_SECONDS`) is not held by one client.
    static let goingAwayGrace = TimeAmount.milliseconds(500)


    private func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel, goneAway: OneWayFlag) async {
        let outbox = SocketOutbox()
        let id = await hub.openSession { outbox.post($0) }
        let session = SyncSession(
            id: id, hub: hub, engine: engine, authenticator: authenticator, logger: logger, limits: configuration.limits,
            latestKnownTimestamp: configuration.latestKnownTimestamp
        ) { outbox.post($0) }
        outbox.start { [hub] message in
            do { try await outbound.write(.text(message.serialized())) } catch { return false }
            if case .transition = message { await hub.transitionWritten(id) }
            // A FatalError is a socket's last message, whoever sent it (the reader or a session
            // deadline): closing here ends the reader too, once the client answers the close or
            // the keep-alive's close-handshake period has passed.
            if case .fatalError = message {
                try? await outbound.close(.policyViolation, reason: nil)
                return false
            }
            return true
        }
        // A timer on the socket's event loop, not a sleeping task: an idle socket keeps no task
        // of its own (docs/performance.md, memory_per_connection).
        let interval = TimeAmount(configuration.pingInterval)
        let pinger = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in outbox.post(.ping) }
        do {
            for try await message in inbound.messages(maxSize: configuration.limits.maxMessageBytes) {
                if goneAway.isSet { continue }
                // A client that sends without reading waits here, not in the node's memory.
                await outbox.belowHighWater()
                guard case .text(let text) = message else {
                    throw SessionEnd(message: .fatalError(error: "Binary frames are not part of the sync protocol"), reason: "binary frame")
                }
                let parsed: ClientMessage
                do throws(ProtocolError) {
                    parsed = try ClientMessage.parse(text)
                } catch {
                    throw SessionEnd(message: .fatalError(error: error.description), reason: "malformed message")
                }
                try await session.handle(parsed)
            }
        } catch let end as SessionEnd {
            logger.info("closing sync socket: \(end.reason)")
            if let message = end.message { outbox.post(message) }
        } catch {
            logger.info("sync socket ended: \(error)")
        }
        pinger.cancel()
        outbox.close()
        await session.close()
        // The final message (a FatalError) is written before the handler returns and the
        // WebSocket library closes the socket.
        await outbox.flushed()
    }

    /// Re-runs so far (shared queries count once), for tests and metrics.
    public func rerunCount() async -> Int { await hub.rerunCount }
}
