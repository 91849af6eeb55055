import AsyncHTTPClient
import Foundation
import NIOCore

/// Ripple as a client sees it over the network: mutations through the HTTP API (`POST
/// /api/mutation`, keep-alive connections, one per load-generator client).
struct RipplePeer: Sendable {
    let baseURL: String
    let http: HTTPClient

    init(baseURL: String, connections: Int) {
        self.baseURL = baseURL
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(120), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async throws { try await http.shutdown() }

    /// Runs mutation `path` and returns its value; a function error or a non-200 answer throws.
    @discardableResult
    func mutation(_ path: String, _ args: [String: Any]) async throws -> Any {
        try await call("mutation", path, args)
    }

    /// Runs query `path` (`POST /api/query`) and returns its value.
    @discardableResult
    func query(_ path: String, _ args: [String: Any]) async throws -> Any {
        try await call("query", path, args)
    }

    private func call(_ kind: String, _ path: String, _ args: [String: Any]) async throws -> Any {
        var request = HTTPClientRequest(url: baseURL + "/api/" + kind)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        let body = try JSONSerialization.data(withJSONObject: ["path": path, "args": args, "format": "json"])
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await http.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        let answer = try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]
        guard response.status == .ok, let answer, answer["status"] as? String == "success" else {
            throw PeerError("\(path): HTTP \(response.status.code) \(String(buffer: bytes).prefix(300))")
        }
        return answer["value"] ?? NSNull()
    }
}

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
