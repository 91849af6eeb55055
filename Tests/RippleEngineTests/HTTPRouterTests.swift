import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

/// HTTP actions through the engine: route choice, 404/405, the request as the action sees it,
/// and the action context (a mutation run from a route).
struct HTTPRouterTests {
    static func app() -> App {
        var functions = FunctionRegistry()
        functions.internalMutation("notes:add", args: ["text": v.string()]) { ctx, args in try ctx.db.insert("notes", ["text": args["text"]!]) }
        functions.query("notes:count") { ctx, _ in Double(try ctx.db.query("notes").collect().count) }
        var http = HTTPRouter()
        http.route(path: "/hello", method: .get) { _, request in .text("hello \(request.queryParameter("name") ?? "?")") }
        http.route(path: "/notes", method: .post) { ctx, request in
            let id = try await ctx.runMutation("notes:add", ["text": .string(request.text)])
            return .json(.object([("id", .string(id.stringValue ?? ""))]), status: 201)
        }
        http.route(pathPrefix: "/files/", method: .get) { _, request in .text("prefix \(request.path)") }
        http.route(path: "/files/special", method: .get) { _, _ in .text("exact") }
        http.route(path: "/fail", method: .get) { ctx, _ in throw UserError("failed with \(ctx.env["SECRET_TOKEN"] ?? "")") }
        return App(schema: itemsSchema, functions: functions, http: http)
    }

    let directory = TemporaryDirectory()
    let engine: Engine

    init() throws {
        var options = EngineOptions()
        options.environment = DeploymentEnvironment(["SECRET_TOKEN": "s3cr3t-t0ken-value"])
        engine = try Engine.open(path: directory.database, app: Self.app(), options: options)
    }

    func body(_ response: HTTPActionResponse) -> String {
        guard case .bytes(let bytes) = response.body else { return "<stream>" }
        return String(decoding: bytes, as: UTF8.self)
    }

    @Test func routesByExactPathThenLongestPrefix() async throws {
        let hello = await engine.httpAction(HTTPActionRequest(method: "GET", path: "/hello", query: "name=Ada%20L&x=1"))
        #expect(hello.status == 200)
        #expect(body(hello) == "hello Ada L")
        #expect(body(await engine.httpAction(HTTPActionRequest(method: "GET", path: "/files/a/b"))) == "prefix /files/a/b")
        #expect(body(await engine.httpAction(HTTPActionRequest(method: "GET", path: "/files/special"))) == "exact")
    }

    @Test func unknownPathIs404AndWrongMethodIs405WithAllow() async throws {
        #expect(await engine.httpAction(HTTPActionRequest(method: "GET", path: "/nope")).status == 404)
        let wrong = await engine.httpAction(HTTPActionRequest(method: "DELETE", path: "/notes"))
        #expect(wrong.status == 405)
        #expect(wrong.headers.first { $0.name == "Allow" }?.value == "POST")
    }

    @Test func aRouteRunsMutationsThroughItsContext() async throws {
        let created = await engine.httpAction(HTTPActionRequest(method: "post", path: "/notes", body: Array("from http".utf8)))
        #expect(created.status == 201)
        #expect(try await engine.query("notes:count").value == 1)
    }

    @Test func aFailingRouteIs500WithItsSecretsMasked() async throws {
        let failed = await engine.httpAction(HTTPActionRequest(method: "GET", path: "/fail"))
        #expect(failed.status == 500)
        #expect(body(failed) == "Uncaught Error: failed with [SECRET_TOKEN redacted]\n")
    }
}

/// `ctx.env`: what functions see of the environment, and what is masked.
struct DeploymentEnvironmentTests {
    @Test func nodeSettingsAreNotPartOfTheAppsEnvironment() {
        let env = DeploymentEnvironment.process(["RIPPLE_CLUSTER_SECRET": "x", "ANTHROPIC_API_KEY": "sk-test", "EMPTY": ""])
        #expect(env["RIPPLE_CLUSTER_SECRET"] == nil)
        #expect(env["ANTHROPIC_API_KEY"] == "sk-test")
        #expect(env["EMPTY"] == nil)
        #expect("\(env)" == "DeploymentEnvironment(ANTHROPIC_API_KEY, EMPTY)")
    }

    @Test func redactMasksLongValuesOnly() {
        let env = DeploymentEnvironment(["KEY": "sk-ant-0123456789", "PORT": "8080"])
        #expect(env.redact("key sk-ant-0123456789 on 8080") == "key [KEY redacted] on 8080")
    }
}
