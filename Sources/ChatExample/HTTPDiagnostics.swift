import Ripple

extension ChatApp {
    /// HTTP routes the cluster suite drives (only with `CHAT_DIAGNOSTICS=1`): an echo of the
    /// request, a prefix route, a streamed body, and a route that writes through a mutation.
    static func registerHTTPDiagnostics(_ http: inout HTTPRouter) {
        let echo: HTTPActionHandler = { ctx, request in
            .json(.object([
                ("method", .string(request.method)), ("path", .string(request.path)), ("query", .string(request.query)),
                ("name", request.queryParameter("name").map(JSON.string) ?? .null),
                ("header", request.header("x-diagnostics").map(JSON.string) ?? .null),
                ("body", .string(request.text)),
                ("user", ctx.auth.getUserIdentity().map { JSON.string($0.subject) } ?? .null),
            ]))
        }
        http.route(path: "/diagnostics/echo", method: .get, echo)
        http.route(path: "/diagnostics/echo", method: .post, echo)
        http.route(pathPrefix: "/diagnostics/files/", method: .get) { _, request in
            var response = HTTPActionResponse.text("file \(request.path.dropFirst("/diagnostics/files/".count))", status: 200)
            response.headers.append(("X-Route", "prefix"))
            return response
        }
        // `?chunks=N&bytes=M`: N chunks of M bytes, 20 ms apart, so a client sees them arrive.
        http.route(path: "/diagnostics/stream", method: .get) { _, request in
            let chunks = min(Int(request.queryParameter("chunks") ?? "") ?? 10, 1_000)
            let size = min(Int(request.queryParameter("bytes") ?? "") ?? 1_024, 1 << 20)
            let stream = AsyncThrowingStream<[UInt8], any Error> { continuation in
                let task = Task {
                    for index in 0..<chunks {
                        continuation.yield([UInt8](repeating: UInt8(ascii: "a") + UInt8(index % 26), count: size))
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            }
            return HTTPActionResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: .stream(stream))
        }
        // Runs a mutation from an HTTP action: the action context is the same as an action's.
        http.route(path: "/diagnostics/record", method: .post) { ctx, request in
            // Recorded as diagnostics:runStats counts a prefix: run `<prefix>-http`, counter `<prefix>`.
            let prefix = request.queryParameter("prefix") ?? "http"
            try await ctx.runMutation(JobDiagnostics.recordRun, .init(tag: "\(prefix)-http", counter: prefix))
            return .text("recorded \(prefix)-http")
        }
    }
}
