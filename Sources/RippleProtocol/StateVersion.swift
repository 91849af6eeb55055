import RippleValues

/// The version of a client's view of the server, carried by every Transition (protocol.md §3.1).
///
/// A client accepts a Transition only if its `startVersion` equals the version it holds, so the
/// server must remember the last `endVersion` it sent on each socket.
public struct StateVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The newest `ModifyQuerySet.newVersion` included.
    public var querySet: UInt32
    /// The number of `Authenticate` messages included.
    public var identity: UInt32
    /// The snapshot timestamp the query results were computed at (u64 nanoseconds).
    public var ts: UInt64

    public init(querySet: UInt32, identity: UInt32, ts: UInt64) {
        self.querySet = querySet
        self.identity = identity
        self.ts = ts
    }

    /// Where every socket starts, and so the `startVersion` of its first Transition.
    public static let initial = StateVersion(querySet: 0, identity: 0, ts: 0)

    /// Lexicographic on (querySet, identity, ts), the order in which the real server advances versions.
    public static func < (a: StateVersion, b: StateVersion) -> Bool {
        (a.querySet, a.identity, a.ts) < (b.querySet, b.identity, b.ts)
    }

    public var description: String { "(querySet: \(querySet), identity: \(identity), ts: \(ts))" }

    /// `{"querySet":…,"identity":…,"ts":"<base64 LE u64>"}`.
    public var json: JSON {
        .object([("querySet", .int(Int64(querySet))), ("identity", .int(Int64(identity))), ("ts", .string(WireTimestamp.encode(ts)))])
    }

    init(reading fields: FieldReader) throws(ProtocolError) {
        self.init(querySet: try fields.u32("querySet"), identity: try fields.u32("identity"), ts: try fields.timestamp("ts"))
    }
}
