/// A commit's place in the log: nanoseconds since the Unix epoch, unique and strictly increasing
/// across commits (`CommitClock`). A type of its own so that a timestamp is never mistaken for a
/// document number, a byte count or a term, and so that its only conversions — to Convex's
/// milliseconds, to the `Int64` SQLite stores, to the varint the log ships — are written once.
public struct CommitTimestamp: Hashable, Comparable, Sendable {
    /// Nanoseconds since the Unix epoch; read it only where the raw number crosses a boundary (a
    /// codec, a wire field, a JSON string).
    public let nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// The timestamp SQLite stored as a signed integer (timestamps fit below `Int64.max` until 2262).
    public init(bitPattern: Int64) {
        nanoseconds = UInt64(bitPattern: bitPattern)
    }

    /// Before every commit: the position of an empty log.
    public static let zero = CommitTimestamp(nanoseconds: 0)

    /// The smallest timestamp after this one.
    public var next: CommitTimestamp { CommitTimestamp(nanoseconds: nanoseconds + 1) }

    /// The form SQLite stores, `Int64(bitPattern:)` of the nanoseconds.
    public var bitPattern: Int64 { Int64(bitPattern: nanoseconds) }

    /// Milliseconds since the epoch, as Convex gives `_creationTime` and a function's `Date.now()`.
    public var milliseconds: Double { Double(nanoseconds) / 1_000_000 }

    /// How long after `earlier` this timestamp is; zero when it is not after it.
    public func duration(since earlier: CommitTimestamp) -> Duration {
        guard self > earlier else { return .zero }
        let gap = nanoseconds - earlier.nanoseconds
        return .seconds(Int64(gap / 1_000_000_000)) + .nanoseconds(Int64(gap % 1_000_000_000))
    }

    /// The timestamp `duration` before this one, or `.zero` when that is before the epoch.
    public func subtracting(_ duration: Duration) -> CommitTimestamp {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return self }
        let (whole, tooLong) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        let (gap, stillTooLong) = whole.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return tooLong || stillTooLong || gap >= nanoseconds ? .zero : CommitTimestamp(nanoseconds: nanoseconds - gap)
    }

    public static func < (lhs: CommitTimestamp, rhs: CommitTimestamp) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }
}

extension CommitTimestamp: LosslessStringConvertible {
    /// The nanosecond count, the digits logs, `/health` and the docs have always shown.
    public var description: String { String(nanoseconds) }

    /// Parses the nanosecond digits `description` prints (an admin's `?ts=`), nil for anything else.
    public init?(_ description: String) {
        guard let nanoseconds = UInt64(description) else { return nil }
        self.init(nanoseconds: nanoseconds)
    }
}

extension CommitTimestamp: Codable {
    /// The bare nanosecond count, as the `UInt64` it replaced was written (etcd's candidate
    /// records): nodes of either build read each other's.
    public init(from decoder: any Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(nanoseconds)
    }
}

extension CommitTimestamp: ExpressibleByIntegerLiteral {
    /// A literal is nanoseconds: tests and fixtures write positions such as `Commit(ts: 5, …)`.
    public init(integerLiteral nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }
}
