import RippleValues

/// A stored document as functions see it: user fields plus `_id` and `_creationTime`.
@dynamicMemberLookup
public struct Document: Sendable, Hashable {
    /// All fields, system fields included.
    public let fields: [String: Value]

    public init(fields: [String: Value]) { self.fields = fields }

    public var id: String { fields["_id"]?.stringValue ?? "" }
    /// Milliseconds since the epoch, possibly fractional, as Convex's `_creationTime`.
    public var creationTime: Double { fields["_creationTime"]?.doubleValue ?? 0 }

    public subscript(field: String) -> Value? { fields[field] }
    public subscript(dynamicMember field: String) -> Value? { fields[field] }

    /// The user fields only, as `replace` and `insert` take them.
    public var userFields: [String: Value] { fields.filter { !$0.key.hasPrefix("_") } }
}

/// Anything a function can return or pass as a value: converted with Convex's value model.
public protocol ValueConvertible {
    var convexValue: Value { get }
}

extension Value: ValueConvertible { public var convexValue: Value { self } }
extension Document: ValueConvertible { public var convexValue: Value { .object(fields) } }
extension String: ValueConvertible { public var convexValue: Value { .string(self) } }
extension Double: ValueConvertible { public var convexValue: Value { .float64(self) } }
extension Int: ValueConvertible { public var convexValue: Value { .float64(Double(self)) } }
extension Int64: ValueConvertible { public var convexValue: Value { .int64(self) } }
extension Bool: ValueConvertible { public var convexValue: Value { .boolean(self) } }
extension Array: ValueConvertible where Element: ValueConvertible { public var convexValue: Value { .array(map(\.convexValue)) } }
extension Optional: ValueConvertible where Wrapped: ValueConvertible {
    /// A missing result is `null`, as Convex returns `undefined` to clients.
    public var convexValue: Value { self?.convexValue ?? .null }
}
extension Dictionary: ValueConvertible where Key == String, Value: ValueConvertible {
    public var convexValue: RippleValues.Value { .object(mapValues(\.convexValue)) }
}
