import Hummingbird
import RippleAuth
import RippleEngine

/// Serves the app's HTTP actions at `/http/<path>` (where Convex's local backend serves them):
/// the request goes to the engine's router as method, path, query, headers and body; the
/// action's response comes back as it is, its body streamed when the action streams it.
struct HTTPActionRoutes: Sendable {
    let engine: Engine
    let authenticator: Authenticator
    /// Largest request body an HTTP action receives (`RIPPLE_MAX_MESSAGE_BYTES`, as for the HTTP
    /// API); a larger one is answered 413 unread.
    let maxBodySize: Int

    func register(on router: Router<BasicRequestContext>) {
        for method in RippleEngine.HTTPMethod.allCases {
            guard let hummingbirdMethod = HTTPRequest.Method(method.rawValue) else { continue }
            router.on("/http/**", method: hummingbirdMethod) { request, context in
                await serve(request, path: "/" + context.parameters.getCatchAll().joined(separator: "/"))
            }
        }
    }

    private func serve(_ request: Request, path: String) async -> Response {
        let identity: Identity
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            do {
                identity = .user(SyncSession.engineIdentity(try await authenticator.verify(userToken: String(header.dropFirst(7)))))
            } catch {
                return Self.plain(.unauthorized, "The bearer token is not valid: \(error.description)\n")
            }
        } else {
            identity = .anonymous
        }
        var body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: maxBodySize)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            return Self.plain(.contentTooLarge, "Request body larger than \(maxBodySize) bytes\n")
        }
        let actionRequest = HTTPActionRequest(
            method: request.method.rawValue, path: path, query: request.uri.query ?? "",
            headers: request.headers.map { (name: $0.name.canonicalName, value: $0.value) }, body: body)
        return Self.response(await engine.httpAction(actionRequest, identity: identity))
    }

    static func response(_ action: HTTPActionResponse) -> Response {
        var headers = HTTPFields()
        for header in action.headers {
            if let name = HTTPFields.Element.Name(header.name) { headers.append(.init(name: name, value: header.value)) }
        }
        let status = HTTPResponse.Status(code: (100...599).contains(action.status) ? action.status : 500)
        switch action.body {
        case .bytes(let bytes):
            return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .stream(let chunks):
            return Response(status: status, headers: headers, body: ResponseBody { writer in
                for try await chunk in chunks { try await writer.write(ByteBuffer(bytes: chunk)) }
                try await writer.finish(nil)
            })
        }
    }

    private static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
