import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import RippleEngine
import Synchronization

/// `ctx.fetch` over one async-http-client shared by every action of the node: connections are
/// pooled per host, timeouts and redirects come from `FetchLimits`, and a response body is
/// streamed to the action and cut off at its size cap.
public final class HTTPClientFetcher: Fetcher {
    private let client: HTTPClient
    private let limits: FetchLimits

    /// One per process; call `shutdown` before the process exits.
    public init(limits: FetchLimits = FetchLimits()) {
        self.limits = limits
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: limits.maxRedirects, allowCycles: false),
            timeout: HTTPClient.Configuration.Timeout(connect: Self.amount(limits.connectTimeout), read: Self.amount(limits.readTimeout))
        )
        configuration.decompression = .disabled
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async throws { try await client.shutdown() }

    public func fetch(_ request: FetchRequest) async throws -> FetchResponse {
        let host = try Self.host(of: request.url)
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = NIOHTTP1.HTTPMethod(rawValue: request.method.uppercased())
        for header in request.headers { outbound.headers.add(name: header.name, value: header.value) }
        if let body = request.body { outbound.body = .bytes(ByteBuffer(bytes: body)) }
        let timeout = request.timeout ?? limits.timeout
        let deadline = ContinuousClock.now + timeout
        let cap = request.maxResponseBodySize ?? limits.maxResponseBodySize
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, timeout: Self.amount(timeout))
        } catch {
            throw Self.fetchError(error, host: host)
        }
        let headers = response.headers.map { (name: $0.name, value: $0.value) }
        let source = response.body
        let firstRead = FirstRead()
        let body = FetchBody {
            // AsyncHTTPClient's body allows one iterator and traps on a second: a second read
            // (`text()` after `bytes()`) must be an error for the action, not a dead node.
            guard firstRead.claim() else {
                return { throw FetchError(.bodyAlreadyRead, "The response body from \(host) was already read") }
            }
            var chunks = source.makeAsyncIterator()
            var received = 0
            return {
                let chunk: ByteBuffer?
                do {
                    chunk = try await chunks.next()
                } catch {
                    throw Self.fetchError(error, host: host)
                }
                guard var chunk else { return nil }
                received += chunk.readableBytes
                guard received <= cap else {
                    throw FetchError(.bodyTooLarge, "The response from \(host) is larger than \(cap) bytes")
                }
                guard ContinuousClock.now <= deadline else {
                    throw FetchError(.timeout, "The request to \(host) took longer than \(timeout)")
                }
                return chunk.readBytes(length: chunk.readableBytes) ?? []
            }
        }
        return FetchResponse(status: Int(response.status.code), headers: headers, body: body)
    }

    /// True for the first caller only.
    private final class FirstRead: Sendable {
        private let taken = Atomic<Bool>(false)
        func claim() -> Bool { !taken.exchange(true, ordering: .acquiringAndReleasing) }
    }

    /// The host of an absolute http(s) URL, for error messages (which never carry the query).
    static func host(of url: String) throws -> String {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else {
            throw FetchError(.invalidURL, "fetch needs an absolute http:// or https:// URL")
        }
        let afterScheme = url[url.index(url.firstIndex(of: ":")!, offsetBy: 3)...]
        let authority = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // Credentials in the URL stay out of messages.
        let host = authority.split(separator: "@").last.map(String.init) ?? ""
        guard !host.isEmpty else { throw FetchError(.invalidURL, "fetch needs a URL with a host") }
        return host
    }

    static func fetchError(_ error: any Error, host: String) -> any Error {
        if error is FetchError || error is CancellationError { return error }
        if let error = error as? HTTPParserError {
            // The end of the connection in the middle of a body is the parser's invalid EOF.
            return error == .invalidEOFState
                ? FetchError(.transport, "\(host) closed the connection before the response ended")
                : FetchError(.transport, "\(host) sent a response that is not valid HTTP")
        }
        guard let error = error as? HTTPClientError else {
            return FetchError(.transport, "The request to \(host) failed: \(type(of: error))")
        }
        switch error {
        case .connectTimeout: return FetchError(.connect, "Connecting to \(host) timed out")
        case .readTimeout, .deadlineExceeded: return FetchError(.timeout, "The request to \(host) timed out")
        case .redirectLimitReached, .redirectCycleDetected: return FetchError(.redirects, "Too many redirects from \(host)")
        case .cancelled: return CancellationError()
        case .remoteConnectionClosed: return FetchError(.transport, "\(host) closed the connection before the response ended")
        default: return FetchError(.transport, "The request to \(host) failed: \(error)")
        }
    }

    private static func amount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
