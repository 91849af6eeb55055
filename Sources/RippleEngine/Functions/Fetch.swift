/// An outbound HTTP request made by an action (`ctx.fetch`).
public struct FetchRequest: Sendable {
    public var url: String
    public var method: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]?
    /// The whole exchange, response body included, must finish within this; `nil` takes the
    /// node's default (`FetchLimits.timeout`).
    public var timeout: Duration?
    /// Largest response body read; a longer one fails with `FetchError.bodyTooLarge`. `nil`
    /// takes the node's default (`FetchLimits.maxResponseBodySize`).
    public var maxResponseBodySize: Int?

    public init(
        url: String, method: String = "GET", headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: Duration? = nil, maxResponseBodySize: Int? = nil
    ) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBodySize = maxResponseBodySize
    }
}

/// The response to a `FetchRequest`: status and headers at once, the body as it arrives.
public struct FetchResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    /// The body in chunks as they arrive; read it once.
    public let body: FetchBody

    public init(status: Int, headers: [(name: String, value: String)], body: FetchBody) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? { headers.firstValue(of: name) }

    /// The whole body (still bounded by the request's size cap).
    public func bytes() async throws -> [UInt8] {
        var all: [UInt8] = []
        for try await chunk in body { all += chunk }
        return all
    }

    /// The whole body as UTF-8 text.
    public func text() async throws -> String { String(decoding: try await bytes(), as: UTF8.self) }
}

/// A response body read chunk by chunk; whoever makes it decides where the chunks come from
/// (a socket, a test's array).
public struct FetchBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    private let makeNext: @Sendable () -> (() async throws -> [UInt8]?)

    /// A body whose iterator calls the closure `makeNext` returns until it yields `nil`.
    public init(_ makeNext: @escaping @Sendable () -> (() async throws -> [UInt8]?)) { self.makeNext = makeNext }

    /// A body of fixed chunks (tests, and responses already in memory).
    public init(chunks: [[UInt8]]) {
        self.init {
            var remaining = chunks[...]
            return { remaining.popFirst() }
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextChunk: () async throws -> [UInt8]?
        public mutating func next() async throws -> [UInt8]? { try await nextChunk() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextChunk: makeNext()) }
}

/// How a node makes outbound HTTP requests for actions. The node process plugs in one shared
/// client (`RippleFetch.HTTPClientFetcher`); tests plug in a fake.
public protocol Fetcher: Sendable {
    func fetch(_ request: FetchRequest) async throws -> FetchResponse
}

/// Why a fetch failed. Messages name the host, never headers or bodies (which may carry keys).
public struct FetchError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The URL is not an absolute http(s) URL.
        case invalidURL
        /// This node has no outbound HTTP configured.
        case notConfigured
        /// Connecting failed or took longer than the connect timeout.
        case connect
        /// The exchange took longer than its timeout, or the server went quiet longer than the
        /// read timeout.
        case timeout
        /// The response body is larger than the request's cap.
        case bodyTooLarge
        /// Too many redirects, or a redirect loop.
        case redirects
        /// The connection broke or the server answered something that is not HTTP.
        case transport
        /// The body was already read: a network body streams once.
        case bodyAlreadyRead
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The node-wide defaults of outbound HTTP; every one can be lowered or raised per request
/// except the connect and read timeouts and the redirect count, which belong to the shared client.
public struct FetchLimits: Sendable {
    /// Time to open a connection (TCP and TLS).
    public var connectTimeout: Duration = .seconds(10)
    /// Longest silence while waiting for response bytes.
    public var readTimeout: Duration = .seconds(60)
    /// The whole exchange, body included (an AI answer streams for minutes at worst).
    public var timeout: Duration = .seconds(300)
    /// Largest response body an action may read.
    public var maxResponseBodySize = 16 << 20
    /// Redirects followed before failing.
    public var maxRedirects = 5

    public init() {}
}

/// The fetcher of a node without outbound HTTP: every call fails, saying so.
struct NoFetcher: Fetcher {
    func fetch(_ request: FetchRequest) async throws -> FetchResponse {
        throw FetchError(.notConfigured, "This node has no outbound HTTP client configured")
    }
}

extension Array where Element == (name: String, value: String) {
    /// The first value of header `name`; header names are case-insensitive.
    func firstValue(of name: String) -> String? {
        let lowered = name.lowercased()
        return first { $0.name.lowercased() == lowered }?.value
    }
}
