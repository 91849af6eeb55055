import AsyncHTTPClient
import Foundation

/// Fetches discovery and JWKS documents with `HTTPClient.shared`, which lives for the whole process
/// and so needs no shutdown.
public struct HTTPDocumentFetcher: DocumentFetcher {
    /// How long one request may take, connection included.
    public var timeout: Duration
    /// Bodies above this size are refused; a JWKS is a few KiB.
    public var maximumBodySize: Int

    public init(timeout: Duration = .seconds(10), maximumBodySize: Int = 1 << 20) {
        self.timeout = timeout
        self.maximumBodySize = maximumBodySize
    }

    /// Why a fetch failed, phrased for the `AuthError` it ends up in.
    public struct FetchError: Error, CustomStringConvertible {
        public let description: String
    }

    public func fetch(_ url: URL) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "Accept", value: "application/json")
        let (seconds, attoseconds) = timeout.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(nanoseconds))
        // The shared client follows redirects, including https → http; the rule applies to where we ended up.
        if let finalURL = response.url, let refusal = TransportRule.refusal(for: finalURL) {
            throw FetchError(description: "redirected: \(refusal)")
        }
        guard response.status == .ok else {
            throw FetchError(description: "HTTP status \(response.status.code)")
        }
        let body = try await response.body.collect(upTo: maximumBodySize)
        return Array(body.readableBytesView)
    }
}
