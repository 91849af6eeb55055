import Foundation
import Hummingbird
import Logging
import RippleAuth
import RippleEngine
import RippleValues

/// The dashboard every node serves: the page at `/dashboard` (static, no data) and its JSON API
/// under `/api/dashboard/`, every route of which answers only to `Authorization: Convex <admin
/// key>`. Data goes through the engine's `_system/dashboard:*` functions, so a dashboard write is
/// validated and committed exactly like a function's; live views use the sync protocol itself.
struct Dashboard: Sendable {
    let engine: Engine
    let authenticator: Authenticator
    let hub: SubscriptionHub
    let configuration: SyncServer.Configuration
    let logger: Logger

    /// Most log entries one poll returns.
    static let maxLogBatch = 500
    /// Most jobs listed per state.
    static let maxJobsPerState = 50

    private var api: HTTPAPI { HTTPAPI(engine: engine, authenticator: authenticator, limits: configuration.limits) }
    private static let admin = Identity.admin(actingAs: nil)

    func register(on router: Router<BasicRequestContext>) {
        router.get("/dashboard") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        let group = router.group("/api/dashboard").add(middleware: AdminKeyRequired(authenticator: authenticator))
        group.get("tables") { _, _ in await api.respond { try await system(DashboardFunctions.tables) } }
        group.get("documents") { request, _ in
            await api.respond {
                let query = request.uri.queryParameters
                var args: [String: Value] = ["table": .string(String(query["table"] ?? ""))]
                if let size = query["pageSize"].flatMap({ Double(String($0)) }) { args["pageSize"] = .float64(size) }
                if let cursor = query["cursor"], !cursor.isEmpty { args["cursor"] = .string(String(cursor)) }
                if let field = query["field"], !field.isEmpty {
                    args["field"] = .string(String(field))
                    args["value"] = try filterValue(String(query["value"] ?? ""))
                }
                return try await system(DashboardFunctions.documents, args)
            }
        }
        group.post("documents/insert") { request, _ in
            await api.respond { try await audited("insert", try await object(request), DashboardFunctions.insert) }
        }
        group.post("documents/replace") { request, _ in
            await api.respond { try await audited("replace", try await object(request), DashboardFunctions.replace) }
        }
        group.post("documents/delete") { request, _ in
            await api.respond { try await audited("delete", try await object(request), DashboardFunctions.delete) }
        }
        group.get("functions") { _, _ in await api.respond { functions() } }
        group.post("run") { request, _ in await api.respond { try await run(try await object(request)) } }
        group.get("logs") { request, _ in
            let after = request.uri.queryParameters["after"].flatMap { UInt64(String($0)) } ?? 0
            return HTTPAPI.json(.ok, logs(after: after))
        }
        group.get("scheduling") { _, _ in await api.respond { try await scheduling() } }
        group.post("jobs/cancel") { request, _ in
            await api.respond { try await audited("cancel job", try await object(request), SchedulerFunctions.cancel) }
        }
        group.get("node") { _, _ in await api.respond { try await node() } }
    }

    // MARK: - Data

    /// Runs one of the engine's `_system/` queries as the dashboard; its value as Convex JSON.
    private func system(_ path: String, _ args: [String: Value] = [:]) async throws -> JSON {
        try await engine.query(path, args, identity: Self.admin, caller: .system).value.convexJSON
    }

    /// A write from the page: run as the engine's mutation, then logged as an audit line with
    /// what was asked and what came of it.
    private func audited(_ operation: String, _ args: [String: Value], _ path: String) async throws -> JSON {
        do {
            let result = try await engine.mutation(path, args, identity: Self.admin, caller: .system)
            logger.notice("dashboard audit: \(operation) by admin", metadata: Self.auditMetadata(args, outcome: "ts \(result.ts)"))
            return .object([("status", .string("success")), ("value", result.value.convexJSON), ("ts", .string(String(result.ts)))])
        } catch {
            logger.notice("dashboard audit: \(operation) by admin refused", metadata: Self.auditMetadata(args, outcome: error.message))
            if error.kind == .unavailable { throw HTTPAPI.RequestError(status: .serviceUnavailable, code: "Unavailable", message: error.message) }
            return .object([("status", .string("error")), ("errorMessage", .string(error.message))])
        }
    }

    private static func auditMetadata(_ args: [String: Value], outcome: String) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["outcome": "\(outcome)"]
        for key in ["table", "id"] { if let value = args[key]?.stringValue { metadata[key] = "\(value)" } }
        if let fields = args["fields"] { metadata["fields"] = "\(fields.convexJSON.serialized())" }
        return metadata
    }

    /// A request body that must be one JSON object of Convex JSON values.
    private func object(_ request: Request) async throws -> [String: Value] {
        let json = try api.parseJSON(try await api.collect(request))
        guard let value = try? Value(convexJSON: json), case .object(let fields) = value else {
            throw HTTPAPI.RequestError(status: .badRequest, code: "BadRequest", message: "The request body must be a JSON object")
        }
        return fields
    }

    /// The filter box's text: Convex JSON when it parses (`42`, `true`, `"x"`), else the text as a string.
    private func filterValue(_ text: String) throws -> Value {
        guard let json = try? JSON.parse(text) else { return .string(text) }
        do {
            return try Value(convexJSON: json)
        } catch {
            throw HTTPAPI.RequestError(status: .badRequest, code: "BadFilter", message: "The filter value is not Convex JSON: \(error)")
        }
    }

    // MARK: - Functions

    private func functions() -> JSON {
        let all = engine.app.functions.functions.values.sorted { $0.path < $1.path }
        return .array(all.map { function in
            .object([
                ("path", .string(function.path)), ("kind", .string(function.kind.rawValue)),
                ("visibility", .string(function.visibility == .public ? "public" : "internal")),
                ("args", function.args.map { .string(Validator.object($0).description) } ?? .string("any")),
            ])
        })
    }

    /// Runs an app function as admin, or as admin acting as the user described by `actingAs`.
    private func run(_ body: [String: Value]) async throws -> JSON {
        guard let path = body["path"]?.stringValue, let function = engine.app.functions.function(path) else {
            throw HTTPAPI.RequestError(status: .badRequest, code: "UnknownFunction", message: "No function \(body["path"].map { "\($0)" } ?? "named")")
        }
        let args = body["args"]?.objectValue ?? [:]
        var identity = Self.admin
        if let acting = body["actingAs"], case .object = acting {
            identity = .admin(actingAs: SyncSession.actingAs(acting.convexJSON))
        }
        return try await api.run(function.kind, path: function.path, args: args, identity: identity, format: .convexJSON)
    }

    // MARK: - Logs, scheduling, the node

    private func logs(after cursor: UInt64) -> JSON {
        let entries = engine.executions.entries(after: cursor, limit: Self.maxLogBatch)
        return .object([
            ("cursor", .string(String(entries.last?.sequence ?? cursor))),
            ("entries", .array(entries.map { entry in
                .object([
                    ("sequence", .string(String(entry.sequence))), ("path", .string(entry.path)), ("kind", .string(entry.kind.rawValue)),
                    ("finishedAt", .number(entry.finishedAt)), ("durationMs", .number(entry.durationMs)),
                    ("outcome", .string(entry.error == nil ? "success" : "failure")), ("error", entry.error.map(JSON.string) ?? .null),
                ])
            })),
        ])
    }

    private func scheduling() async throws -> JSON {
        var states: [(String, JSON)] = []
        for state in JobState.allCases {
            let page = try await system(
                SchedulerFunctions.jobsInState, ["state": .string(state.rawValue), "limit": .float64(Double(Self.maxJobsPerState))])
            states.append((state.rawValue, page["page"] ?? .array([])))
        }
        let crons = try await system(SchedulerFunctions.cronJobs)
        let lease = try await system(DashboardFunctions.schedulerLease)
        return .object([("jobs", .object(states)), ("crons", crons), ("lease", lease)])
    }

    /// This node for the cluster view: its `/health` fields, its clients and live queries, and
    /// its Prometheus text (the page reads commits and latency percentiles from it).
    private func node() async throws -> JSON {
        let ts = try await engine.appliedTimestamp()
        var fields: [(String, JSON)] = [
            ("role", .string(configuration.role)), ("nodeId", .string(configuration.nodeID)), ("appliedTs", .string(String(ts))),
            ("now", .string(String(UInt64(Date().timeIntervalSince1970 * 1e9)))),
            ("sessions", .int(Int64(await hub.sessionCount))), ("liveQueries", .int(Int64(await hub.liveQueryCount))),
        ]
        fields += await configuration.replicationStatus()
        fields.append(("metrics", .string(configuration.metricsText?() ?? "")))
        return .object(fields)
    }
}

/// Refuses every request without `Authorization: Convex <admin key>` with 401 and no data;
/// the key comparison is the authenticator's constant-time one.
struct AdminKeyRequired<Context: RequestContext>: RouterMiddleware {
    let authenticator: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("convex "),
            authenticator.isAdminKey(String(header.dropFirst(7)))
        else {
            return HTTPAPI.json(.unauthorized, .object([("code", .string("Unauthenticated")), ("message", .string("admin key required"))]))
        }
        return try await next(request, context)
    }
}
