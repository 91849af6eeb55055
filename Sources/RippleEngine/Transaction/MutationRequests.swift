import Foundation
import Crypto
import RippleValues

/// Which client request a mutation answers: the sync protocol's sessionId and requestId. A
/// re-sent mutation (a client that reconnected before it heard back) carries the same pair and is
/// answered with the first run's result instead of running twice.
public struct ClientRequest: Sendable, Hashable {
    /// The client's sessionId; JS keeps it across reconnects.
    public let session: String
    /// The mutation's requestId within the session.
    public let id: UInt32

    /// `nil` for an empty sessionId: such a client gives no way to tell its resends from another
    /// client's requests, so its mutations simply run, as Convex runs those of clients without a
    /// session.
    public init?(session: String, id: UInt32) {
        guard !session.isEmpty else { return nil }
        self.session = session
        self.id = id
    }
}

/// Where a remembered result is found: a digest of who is calling, the session and the request
/// id. A request id means nothing outside its session, and a session nothing under another
/// identity, so two signed-in users never share a result. Anonymous clients all share one
/// identity, so for them the sessionId alone keeps clients apart: it must be a UUID (the official
/// clients make a random v4 one), or the mutation is not deduplicated — a fixed or guessable
/// sessionId such as "test" would make one anonymous client's mutation answer another's.
struct MutationRequestKey: Hashable {
    /// Hex SHA-256: fixed-size, whatever the client sent.
    let digest: String

    init?(identity: Identity, request: ClientRequest) {
        if case .anonymous = identity, UUID(uuidString: request.session) == nil { return nil }
        var hash = SHA256()
        // Each part is length-prefixed, so no choice of strings makes two triples collide.
        for part in [identity.dedupScope, request.session, String(request.id)] {
            hash.update(data: Array(String(part.utf8.count).utf8) + [0x3A] + Array(part.utf8))
        }
        digest = hash.finalize().map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }
}

extension Identity {
    /// Who a remembered request belongs to: the user (by `tokenIdentifier`), the admin acting as
    /// a user, or nobody.
    var dedupScope: String {
        switch self {
        case .anonymous: "anonymous"
        case .user(let user): "user:" + user.tokenIdentifier
        case .admin(let acting): "admin:" + (acting?.tokenIdentifier ?? "")
        }
    }
}

/// How long a mutation's result is remembered for its client's resends.
public struct MutationDedupPolicy: Sendable {
    /// Results younger than this are always found; older ones are removed as new ones are written.
    /// Five minutes outlasts any client's reconnect backoff by far.
    public var retention: Duration = .seconds(300)
    /// Expired results removed by each mutation that remembers one: more than one, so the table
    /// shrinks back after a burst, and few, so no mutation pays for a backlog.
    public var removalsPerRecord = 2

    public init() {}
}

/// The `_mutation_requests` system table inside one mutation's transaction: the only code that
/// reads or writes it.
///
/// A result is written in the mutation's own transaction, so it commits atomically with the
/// mutation's writes (both or neither) and replicates with them in the commit log. The check for
/// an earlier result runs in the same serial writer transaction, so a resend that races its
/// original (another socket, another replica forwarding it) finds it. A mutation that throws
/// leaves no record, like it leaves no writes: its resend runs again.
struct MutationRequestTable {
    let transaction: Transaction
    let policy: MutationDedupPolicy

    /// Results above this are not kept (a document must stay under 1 MiB); a resend of such a
    /// mutation is refused instead of run twice.
    static let largestRememberedResult = 512 * 1024

    /// The result of an earlier run of `key`, if there was one.
    func earlierResult(of key: MutationRequestKey) throws -> Value? {
        let found = try transaction.withSystemWrites {
            try QueryInitializer(transaction: transaction, tableName: SystemTables.mutationRequests, system: true)
                .withIndex(SystemTables.byKey) { $0.eq("key", key.digest) }.first()
        }
        guard let record = found else { return nil }
        guard case .bytes(let encoded)? = record["result"] else {
            throw FunctionError(
                .invalidUse,
                "This mutation request already ran, and its result was too large to keep for a resend; it was not run again")
        }
        return try ValueCodec.decode(encoded)
    }

    /// Remembers `result` for `key`, and removes a few results older than the retention.
    func record(_ key: MutationRequestKey, result: Value) throws {
        let encoded = ValueCodec.encode(result)
        var fields: [String: Value] = ["key": .string(key.digest)]
        if encoded.count <= Self.largestRememberedResult { fields["result"] = .bytes(encoded) }
        try transaction.withSystemWrites {
            _ = try transaction.insert(SystemTables.mutationRequests, fields)
            try removeExpired()
        }
    }

    private func removeExpired() throws {
        guard let ts = transaction.write?.ts else { return }
        let retention = policy.retention.components
        let retentionMilliseconds = Double(retention.seconds) * 1000 + Double(retention.attoseconds) / 1e15
        let cutoffMilliseconds = ts.milliseconds - retentionMilliseconds
        let oldest = try QueryInitializer(transaction: transaction, tableName: SystemTables.mutationRequests, system: true)
            .fullTableScan().take(policy.removalsPerRecord)
        for record in oldest where record.creationTime < cutoffMilliseconds {
            try transaction.delete(record.id)
        }
    }
}
