import RippleValues

/// A request to an HTTP action, as the node received it at `/http/<path>`.
public struct HTTPActionRequest: Sendable {
    /// Upper-case method, e.g. `POST`.
    public let method: String
    /// The path after `/http`, starting with `/` (`/webhooks/clerk`).
    public let path: String
    /// The query string without `?` (`""` when there is none).
    public let query: String
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? { headers.firstValue(of: name) }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The first value of query parameter `name`, percent-decoded (`+` is a space).
    public func queryParameter(_ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if percentDecoded(parts[0]) == name { return parts.count > 1 ? percentDecoded(parts[1]) : "" }
        }
        return nil
    }
}

/// `%XX` and `+` decoded; a malformed escape stays as it is.
func percentDecoded(_ text: Substring) -> String {
    var bytes: [UInt8] = []
    var utf8 = text.utf8[...]
    while let byte = utf8.popFirst() {
        if byte == UInt8(ascii: "+") {
            bytes.append(UInt8(ascii: " "))
        } else if byte == UInt8(ascii: "%"), utf8.count >= 2,
            let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
        {
            bytes.append(value)
            utf8 = utf8.dropFirst(2)
        } else {
            bytes.append(byte)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// What an HTTP action answers: status, headers, and a body in memory or streamed.
public struct HTTPActionResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Written to the client chunk by chunk as the stream yields (large or slow bodies).
        case stream(AsyncThrowingStream<[UInt8], any Error>)
    }

    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: Body

    public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A text response (`text/plain; charset=utf-8` unless `headers` says otherwise).
    public static func text(_ text: String, status: Int = 200) -> HTTPActionResponse {
        HTTPActionResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array(text.utf8)))
    }

    /// A JSON response.
    public static func json(_ json: JSON, status: Int = 200) -> HTTPActionResponse {
        HTTPActionResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(Array(json.serialized().utf8)))
    }
}

/// The handler of an HTTP route: an action that gets the request and answers it.
public typealias HTTPActionHandler = @Sendable (ActionContext, HTTPActionRequest) async throws -> HTTPActionResponse

/// An app's HTTP actions (Convex's `http.ts`): routes by exact path or by path prefix, each with
/// a method. The node serves them at `/http/<path>` on its client port.
public struct HTTPRouter: Sendable {
    struct Route: Sendable {
        enum Match: Sendable {
            case exact(String)
            /// Ends with `/`; matches every path below it.
            case prefix(String)
        }

        let match: Match
        let method: String
        let handler: HTTPActionHandler

        func matches(_ path: String) -> Bool {
            switch match {
            case .exact(let exact): path == exact
            case .prefix(let prefix): path.hasPrefix(prefix)
            }
        }
    }

    private(set) var routes: [Route] = []

    public init() {}

    /// Routes `method` requests for exactly `path` (which starts with `/`) to `handler`.
    public mutating func route(path: String, method: HTTPMethod, _ handler: @escaping HTTPActionHandler) {
        precondition(path.hasPrefix("/"), "HTTP route path \"\(path)\" must start with /")
        add(Route(match: .exact(path), method: method.rawValue, handler: handler))
    }

    /// Routes `method` requests for every path under `pathPrefix` (which starts and ends with `/`).
    public mutating func route(pathPrefix: String, method: HTTPMethod, _ handler: @escaping HTTPActionHandler) {
        precondition(pathPrefix.hasPrefix("/") && pathPrefix.hasSuffix("/"), "HTTP route prefix \"\(pathPrefix)\" must start and end with /")
        add(Route(match: .prefix(pathPrefix), method: method.rawValue, handler: handler))
    }

    private mutating func add(_ route: Route) {
        precondition(
            !routes.contains { $0.method == route.method && "\($0.match)" == "\(route.match)" },
            "HTTP route \(route.method) \(route.match) is defined twice")
        routes.append(route)
    }

    /// What a request resolves to. An exact path wins over a prefix, a longer prefix over a
    /// shorter one (as Convex routes).
    enum Resolution {
        case handler(HTTPActionHandler)
        case notFound
        /// The path has routes, none for this method; `allowed` lists theirs.
        case methodNotAllowed(allowed: [String])
    }

    func resolve(method: String, path: String) -> Resolution {
        let candidates = routes.filter { $0.matches(path) }
        guard !candidates.isEmpty else { return .notFound }
        let ranked = candidates.sorted { rank($0) > rank($1) }
        guard let route = ranked.first(where: { $0.method == method }) else {
            return .methodNotAllowed(allowed: Array(Set(candidates.map(\.method))).sorted())
        }
        return .handler(route.handler)
    }

    private func rank(_ route: Route) -> Int {
        switch route.match {
        case .exact: Int.max
        case .prefix(let prefix): prefix.count
        }
    }

    public var isEmpty: Bool { routes.isEmpty }
}

/// The methods an HTTP route can answer.
public enum HTTPMethod: String, Sendable, CaseIterable {
    case get = "GET"
    case post = "POST"
    case put = "PUT"
    case patch = "PATCH"
    case delete = "DELETE"
    case options = "OPTIONS"
}
