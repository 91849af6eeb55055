import Ripple

extension ChatApp {
    /// HTTP routes the cluster suite drives (only with `CHAT_DIAGNOSTICS=1`): an echo of the
    /// request, a prefix route, a streamed body, and a route that writes through a mutation.
    static func registerHTTPDiagnostics(_ http: inout HTTPRouter) {
        let echo: HTTPActionHandler = { ctx, request in
            let echo = Echo(
                method: request.method, path: request.path, query: request.query, body: request.text,
                name: request.queryParameter("name"), header: request.header("x-diagnostics"), user: ctx.auth.getUserIdentity()?.subject)
            return .json(try ValueEncoder().encode(echo).convexJSON)
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

/// What `/diagnostics/echo` answers: the request as the route saw it, absent parts as null.
private struct Echo: Encodable {
    enum CodingKeys: CodingKey { case method, path, query, body, name, header, user }
    var method, path, query, body: String
    var name, header, user: String?

    /// Optionals are written as null, where the synthesized encoding would leave the key out.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        try container.encode(path, forKey: .path)
        try container.encode(query, forKey: .query)
        try container.encode(body, forKey: .body)
        try container.encode(name, forKey: .name)
        try container.encode(header, forKey: .header)
        try container.encode(user, forKey: .user)
    }
}
