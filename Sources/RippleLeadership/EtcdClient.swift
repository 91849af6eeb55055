import AsyncHTTPClient
import Foundation
import NIOCore

/// The few etcd v3 calls leadership needs, over etcd's JSON gateway (`/v3/...`): leases, a
/// compare-and-set transaction, range reads. Keys and values travel base64-encoded and 64-bit
/// numbers as decimal strings, as the gateway expects.
public struct EtcdClient: Sendable {
    /// What a key holds, with the revisions a transaction compares.
    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]
        public var createRevision: Int64
        public var modRevision: Int64
        public var lease: Int64
    }

    /// A comparison guarding a transaction.
    public enum Comparison: Sendable {
        /// The key does not exist.
        case absent(String)
        /// The key's value equals these bytes.
        case valueEquals(String, [UInt8])
        /// The key was last written at this revision (0: it does not exist).
        case modRevisionEquals(String, Int64)
    }

    /// A write a transaction applies when its comparisons hold.
    public enum Operation: Sendable {
        case put(String, [UInt8], lease: Int64?)
        case delete(String)
    }

    /// The failures of an etcd call; each names the endpoint and what went wrong.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var endpoint: String
        public var reason: String
        public var description: String { "etcd \(endpoint): \(reason)" }
    }

    /// The gateway's base URL, e.g. `http://127.0.0.1:2379`.
    public let baseURL: String
    /// How long one call may take; leadership must notice a dead etcd well within a lease.
    public let timeout: TimeAmount
    private let http: HTTPClient

    public init(baseURL: String, timeout: TimeAmount = .milliseconds(500), http: HTTPClient = .shared) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.timeout = timeout
        self.http = http
    }

    /// Grants a lease; returns its id and the TTL etcd actually granted (it may round up).
    public func grantLease(ttlSeconds: Int64) async throws -> (id: Int64, ttlSeconds: Int64) {
        let reply = try await call("/v3/lease/grant", ["TTL": String(ttlSeconds)])
        guard let id = int64(reply["ID"]), let ttl = int64(reply["TTL"]), ttl > 0 else {
            throw Failure(endpoint: "/v3/lease/grant", reason: "no lease in the reply: \(reply)")
        }
        return (id, ttl)
    }

    /// Renews a lease once; returns the remaining TTL, 0 when the lease is gone.
    public func keepAlive(lease: Int64) async throws -> Int64 {
        let reply = try await call("/v3/lease/keepalive", ["ID": String(lease)])
        // The gateway streams; an error (etcd's "leader changed", say) comes instead of a
        // result and is a failed renewal, not an expired lease: the deadline decides.
        guard let result = reply["result"] as? [String: Any] else {
            throw Failure(endpoint: "/v3/lease/keepalive", reason: "no result in the reply: \(reply)")
        }
        // JSON leaves out zero values: a result without TTL is a lease that is gone.
        return int64(result["TTL"]) ?? 0
    }

    /// Revokes a lease, deleting every key bound to it (a writer resigning).
    public func revoke(lease: Int64) async throws {
        _ = try await call("/v3/lease/revoke", ["ID": String(lease)])
    }

    /// The key's current value, or nil.
    public func get(_ key: String) async throws -> KeyValue? {
        try await range(["key": base64(key)]).first
    }

    /// Every key starting with `prefix`.
    public func list(prefix: String) async throws -> [KeyValue] {
        try await range(["key": base64(prefix), "range_end": base64(Self.prefixEnd(prefix))])
    }

    /// Applies `operations` atomically if every comparison holds; returns whether it did.
    public func transaction(if comparisons: [Comparison], then operations: [Operation]) async throws -> Bool {
        try await transact(if: comparisons, then: operations).succeeded
    }

    /// `transaction`, also returning etcd's revision after it: the mod revision of the keys it
    /// wrote when it succeeded.
    public func transact(if comparisons: [Comparison], then operations: [Operation]) async throws -> (succeeded: Bool, revision: Int64) {
        let compare: [[String: Any]] = comparisons.map { comparison in
            switch comparison {
            case .absent(let key):
                ["key": base64(key), "result": "EQUAL", "target": "CREATE", "create_revision": "0"]
            case .valueEquals(let key, let value):
                ["key": base64(key), "result": "EQUAL", "target": "VALUE", "value": Data(value).base64EncodedString()]
            case .modRevisionEquals(let key, let revision):
                ["key": base64(key), "result": "EQUAL", "target": "MOD", "mod_revision": String(revision)]
            }
        }
        let success: [[String: Any]] = operations.map { operation in
            switch operation {
            case .put(let key, let value, let lease):
                var put: [String: Any] = ["key": base64(key), "value": Data(value).base64EncodedString()]
                if let lease { put["lease"] = String(lease) }
                return ["request_put": put]
            case .delete(let key):
                return ["request_delete_range": ["key": base64(key)]]
            }
        }
        let reply = try await call("/v3/kv/txn", ["compare": compare, "success": success])
        // The gateway leaves out fields at their default, `false` included.
        return (reply["succeeded"] as? Bool ?? false, int64((reply["header"] as? [String: Any])?["revision"]) ?? 0)
    }

    /// Writes a key unconditionally.
    public func put(_ key: String, _ value: [UInt8], lease: Int64? = nil) async throws {
        var body: [String: Any] = ["key": base64(key), "value": Data(value).base64EncodedString()]
        if let lease { body["lease"] = String(lease) }
        _ = try await call("/v3/kv/put", body)
    }

    // MARK: - Wire

    private func range(_ body: [String: Any]) async throws -> [KeyValue] {
        let reply = try await call("/v3/kv/range", body)
        let kvs = reply["kvs"] as? [[String: Any]] ?? []
        return kvs.compactMap { kv in
            guard let key = (kv["key"] as? String).flatMap({ Data(base64Encoded: $0) }) else { return nil }
            return KeyValue(
                key: String(decoding: key, as: UTF8.self),
                value: (kv["value"] as? String).flatMap { Data(base64Encoded: $0) }.map { Array($0) } ?? [],
                createRevision: int64(kv["create_revision"]) ?? 0,
                modRevision: int64(kv["mod_revision"]) ?? 0,
                lease: int64(kv["lease"]) ?? 0)
        }
    }

    private func call(_ endpoint: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: baseURL + endpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw Failure(endpoint: endpoint, reason: "unreachable (\(error))")
        }
        let bytes = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw Failure(endpoint: endpoint, reason: "HTTP \(response.status.code): \(String(buffer: bytes))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] else {
            throw Failure(endpoint: endpoint, reason: "not a JSON object: \(String(buffer: bytes).prefix(200))")
        }
        return object
    }

    private func base64(_ key: String) -> String { Data(key.utf8).base64EncodedString() }

    private func int64(_ field: Any?) -> Int64? {
        switch field {
        case let text as String: Int64(text)
        case let number as NSNumber: number.int64Value
        default: nil
        }
    }

    /// The end of the range holding every key with `prefix`: the prefix with its last byte
    /// incremented (etcd's `clientv3.GetPrefixRangeEnd`).
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }
}
