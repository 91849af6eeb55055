import RippleLog
import RippleReactivity
import RippleValues

/// The range expression of `withIndex`: equalities on a prefix of the index's fields, then at
/// most one lower and one upper bound on the next field — `{ $0.eq("channelId", id).gt("timestamp", t) }`.
public struct IndexRange: Sendable {
    enum Bound: Sendable {
        case inclusive(Value)
        case exclusive(Value)

        var value: Value {
            switch self {
            case .inclusive(let v), .exclusive(let v): v
            }
        }
    }

    var equalities: [(field: String, value: Value)] = []
    var lower: (field: String, bound: Bound)?
    var upper: (field: String, bound: Bound)?
    var misuse: String?

    public init() {}

    public func eq(_ field: String, _ value: some ValueConvertible) -> IndexRange {
        var copy = self
        if lower != nil || upper != nil {
            copy.misuse = copy.misuse ?? "eq(\"\(field)\") must come before gt/gte/lt/lte in an index range"
        }
        copy.equalities.append((field, value.convexValue))
        return copy
    }

    public func gt(_ field: String, _ value: some ValueConvertible) -> IndexRange { withLower(field, .exclusive(value.convexValue)) }
    public func gte(_ field: String, _ value: some ValueConvertible) -> IndexRange { withLower(field, .inclusive(value.convexValue)) }
    public func lt(_ field: String, _ value: some ValueConvertible) -> IndexRange { withUpper(field, .exclusive(value.convexValue)) }
    public func lte(_ field: String, _ value: some ValueConvertible) -> IndexRange { withUpper(field, .inclusive(value.convexValue)) }

    private func withLower(_ field: String, _ bound: Bound) -> IndexRange {
        var copy = self
        if lower != nil { copy.misuse = copy.misuse ?? "an index range can have only one lower bound (gt/gte)" }
        copy.lower = (field, bound)
        return copy
    }

    private func withUpper(_ field: String, _ bound: Bound) -> IndexRange {
        var copy = self
        if upper != nil { copy.misuse = copy.misuse ?? "an index range can have only one upper bound (lt/lte)" }
        copy.upper = (field, bound)
        return copy
    }

    /// The key interval this range covers in `index`, or an error that names the index fields.
    func interval(in index: IndexRecord, tableName: String) throws(TransactionError) -> KeyInterval {
        let indexName = "\(tableName).\(index.name)"
        let fieldList = "[" + (index.fields + ["_creationTime"]).joined(separator: ", ") + "]"
        if let misuse { throw TransactionError("Invalid range for index \(indexName): \(misuse).") }
        let usable = index.fields + ["_creationTime"]
        for (i, eq) in equalities.enumerated() where i >= usable.count || usable[i] != eq.field {
            throw TransactionError(
                "Tried to query index \(indexName) but the query didn't use the index fields in order. "
                    + "Index fields: \(fieldList); eq on \"\(eq.field)\" at position \(i + 1)."
            )
        }
        let next = equalities.count < usable.count ? usable[equalities.count] : nil
        for bound in [lower?.field, upper?.field].compactMap({ $0 }) where bound != next {
            throw TransactionError(
                "Tried to query index \(indexName) with a range on \"\(bound)\", but the next index field after the "
                    + "equalities is \(next.map { "\"\($0)\"" } ?? "none"). Index fields: \(fieldList)."
            )
        }
        var prefix = IndexKey()
        for eq in equalities { prefix.append(eq.value) }
        var lowerKey = prefix
        if let lower {
            lowerKey.append(lower.bound.value)
            if case .exclusive = lower.bound { lowerKey = lowerKey.prefixEnd }
        }
        var upperKey = prefix.prefixEnd
        if let upper {
            upperKey = prefix
            upperKey.append(upper.bound.value)
            if case .inclusive = upper.bound { upperKey = upperKey.prefixEnd }
        }
        return KeyInterval(lower: lowerKey, upper: upperKey)
    }
}
