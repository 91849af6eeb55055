import Foundation
import Hummingbird
import RippleAuth
import RippleEngine
import RippleProtocol
import RippleValues

/// Convex's HTTP API (protocol.md §6): `/api/query`, `/api/mutation`, `/api/action`,
/// `/api/function`, `/api/run/{path}`, `/api/query_ts`, `/api/query_batch`. Function errors are
/// HTTP 200 with `status: "error"`; request errors are 4xx with `{code, message}`.
struct HTTPAPI: Sendable {
    let engine: Engine
    let authenticator: Authenticator
    let limits: SyncLimits

    /// A request-level failure, answered as `{code, message}` with an HTTP status.
    struct RequestError: Error {
        let status: HTTPResponse.Status
        let code: String
        let message: String
    }

    enum Format {
        case convexJSON
        case cleanJSON

        init(_ text: String?, default fallback: Format) throws(RequestError) {
            switch text {
            case nil: self = fallback
            case "convex_encoded_json", "convex_json": self = .convexJSON
            case "json", "convex_clean_json", "export_json": self = .cleanJSON
            case let other?: throw RequestError(status: .badRequest, code: "BadFormat", message: "Unknown format \"\(other)\"")
            }
        }

        func encode(_ value: Value) -> JSON { self == .convexJSON ? value.convexJSON : value.cleanJSON }
    }

    func register(on router: Router<BasicRequestContext>) {
        for kind in [FunctionKind.query, .mutation, .action] {
            router.post("/api/\(kind.rawValue)") { request, context in
                await respond { try await call(kind: kind, request: request, bodyPath: nil) }
            }
        }
        router.get("/api/query") { request, context in
            await respond {
                let path = request.uri.queryParameters["path"].map(String.init) ?? ""
                let argsText = request.uri.queryParameters["args"].map(String.init) ?? "{}"
                let format = try Format(request.uri.queryParameters["format"].map(String.init), default: .cleanJSON)
                let args = try parseArgs(try parseJSON(Array(argsText.utf8)))
                return try await run(.query, path: path, args: args, identity: try await identity(request), format: format)
            }
        }
        router.post("/api/function") { request, context in
            await respond { try await call(kind: nil, request: request, bodyPath: nil) }
        }
        router.post("/api/run/**") { request, context in
            let path = context.parameters.getCatchAll().joined(separator: "/")
            return await respond { try await call(kind: nil, request: request, bodyPath: path) }
        }
        router.post("/api/query_ts") { request, context in
            await respond {
                let ts = try await engine.latestTimestamp()
                return .object([("ts", .string(WireTimestamp.encode(ts.nanoseconds)))])
            }
        }
        router.post("/api/query_batch") { request, context in
            await respond {
                let body = try await parseJSON(try await collect(request))
                guard let items = body["queries"]?.arrayValue else {
                    throw RequestError(status: .badRequest, code: "BadRequest", message: "query_batch expects {\"queries\": [...]}")
                }
                guard items.count <= limits.maxQueryBatch else {
                    throw RequestError(status: .badRequest, code: "TooManyQueries", message: LimitExceeded.queryBatch(items.count, limits.maxQueryBatch))
                }
                let identity = try await identity(request)
                var requests: [Engine.QueryRequest] = []
                var formats: [Format] = []
                for item in items {
                    requests.append(
                        Engine.QueryRequest(
                            path: try canonicalPath(item["path"]?.stringValue), args: try parseArgs(item["args"] ?? .object([])),
                            identity: identity, journal: nil))
                    formats.append(try Format(item["format"]?.stringValue, default: .cleanJSON))
                }
                let (_, results) = try await engine.querySnapshot(requests)
                return .object([("results", .array(zip(results, formats).map { Self.udfResponse($0.map(\.value), format: $1) }))])
            }
        }
    }

    private func call(kind: FunctionKind?, request: Request, bodyPath: String?) async throws -> JSON {
        let body = try parseJSON(try await collect(request))
        let path = try canonicalPath(bodyPath.map { $0.replacingLastSlashWithColon() } ?? body["path"]?.stringValue)
        let format = try Format(body["format"]?.stringValue, default: bodyPath != nil || kind == nil ? .cleanJSON : .cleanJSON)
        let args = try parseArgs(body["args"] ?? .object([]))
        let identity = try await identity(request)
        let resolved = kind ?? engine.app.functions.function(path)?.kind ?? .query
        return try await run(resolved, path: path, args: args, identity: identity, format: format)
    }

    func run(_ kind: FunctionKind, path: String, args: [String: Value], identity: Identity, format: Format) async throws -> JSON {
        let result: Result<Value, FunctionError>
        do {
            switch kind {
            case .query: result = .success(try await engine.query(path, args, identity: identity).value)
            case .mutation: result = .success(try await engine.mutation(path, args, identity: identity).value)
            case .action: result = .success(try await engine.action(path, args, identity: identity))
            }
        } catch {
            if error.kind == .unavailable { throw RequestError(status: .serviceUnavailable, code: "Unavailable", message: error.message) }
            result = .failure(error)
        }
        return Self.udfResponse(result, format: format)
    }

    static func udfResponse(_ result: Result<Value, FunctionError>, format: Format) -> JSON {
        switch result {
        case .success(let value):
            return .object([("status", .string("success")), ("value", format.encode(value)), ("logLines", .array([]))])
        case .failure(let error):
            var fields: [(String, JSON)] = [("status", .string("error")), ("errorMessage", .string(error.message))]
            if let data = error.data { fields.append(("errorData", format.encode(data))) }
            fields.append(("logLines", .array([])))
            return .object(fields)
        }
    }

    /// The caller from the `Authorization` header: `Bearer <JWT>`, `Convex <admin key>`, or none.
    private func identity(_ request: Request) async throws(RequestError) -> Identity {
        guard let header = request.headers[.authorization] else { return .anonymous }
        if header.lowercased().hasPrefix("bearer ") {
            do {
                let verified = try await authenticator.verify(userToken: String(header.dropFirst(7)))
                return .user(SyncSession.engineIdentity(verified))
            } catch {
                throw RequestError(status: .unauthorized, code: "Unauthenticated", message: error.description)
            }
        }
        if header.lowercased().hasPrefix("convex ") {
            // `Convex <key>` or, acting as a user, `Convex <key>:<base64 JSON UserIdentityAttributes>`.
            let parts = header.dropFirst(7).split(separator: ":", maxSplits: 1).map(String.init)
            guard let adminKey = parts.first, authenticator.isAdminKey(adminKey) else {
                throw RequestError(status: .unauthorized, code: "Unauthenticated", message: "The admin key is not valid for this deployment")
            }
            guard parts.count == 2 else { return .admin(actingAs: nil) }
            guard let data = Data(base64Encoded: parts[1]), let attributes = try? JSON.parse([UInt8](data)),
                let user = SyncSession.actingAs(attributes)
            else {
                throw RequestError(status: .badRequest, code: "BadAuthHeader", message: "The acting-as identity is not base64 JSON")
            }
            return .admin(actingAs: user)
        }
        throw RequestError(status: .unauthorized, code: "Unauthenticated", message: "Authorization header must be `Bearer <token>` or `Convex <admin key>`")
    }

    func collect(_ request: Request) async throws(RequestError) -> [UInt8] {
        do {
            var buffer = try await request.body.collect(upTo: limits.maxMessageBytes)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            throw RequestError(
                status: .contentTooLarge, code: "RequestTooLarge",
                message: "Request body larger than \(limits.maxMessageBytes) bytes (RIPPLE_MAX_MESSAGE_BYTES)")
        }
    }

    func parseJSON(_ bytes: [UInt8]) throws(RequestError) -> JSON {
        do {
            return try JSON.parse(bytes)
        } catch {
            throw RequestError(status: .badRequest, code: "BadJsonBody", message: "Request body is not valid JSON: \(error)")
        }
    }

    /// `args` as an object, or a one-element array holding the object (the legacy form).
    private func parseArgs(_ json: JSON) throws(RequestError) -> [String: Value] {
        var args = json
        if case .array(let items) = json {
            guard items.count == 1 else {
                throw RequestError(status: .badRequest, code: "BadArgs", message: "args must be an object or an array of one object")
            }
            args = items[0]
        }
        do {
            guard case .object(let fields) = try Value(convexJSON: args) else {
                throw RequestError(status: .badRequest, code: "BadArgs", message: "args must be an object")
            }
            return fields
        } catch let error as RequestError {
            throw error
        } catch {
            throw RequestError(status: .badRequest, code: "BadArgs", message: "args are not valid Convex JSON: \(error)")
        }
    }

    private func canonicalPath(_ path: String?) throws(RequestError) -> String {
        guard let path else { throw RequestError(status: .badRequest, code: "BadRequest", message: "Missing function `path`") }
        do {
            return try UdfPath.canonical(path)
        } catch {
            throw RequestError(status: .badRequest, code: "BadRequest", message: error.description)
        }
    }

    /// Runs a handler and turns its JSON or its failure into an HTTP response.
    func respond(_ body: () async throws -> JSON) async -> Response {
        do {
            return Self.json(.ok, try await body())
        } catch let error as RequestError {
            return Self.json(error.status, .object([("code", .string(error.code)), ("message", .string(error.message))]))
        } catch let error as FunctionError {
            return Self.json(.ok, Self.udfResponse(.failure(error), format: .convexJSON))
        } catch {
            let failure = FunctionError.serverError(error)
            return Self.json(.internalServerError, .object([("code", .string("InternalServerError")), ("message", .string(failure.message))]))
        }
    }

    static func json(_ status: HTTPResponse.Status, _ json: JSON) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: json.serialized())))
    }
}

extension String {
    /// `/api/run/messages/list` names `messages:list`: the last slash separates the function.
    func replacingLastSlashWithColon() -> String {
        guard let slash = lastIndex(of: "/") else { return self }
        return String(self[..<slash]) + ":" + String(self[index(after: slash)...])
    }
}
