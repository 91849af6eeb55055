/// A Convex value: the only data that documents, function arguments and results are made of.
///
/// No `nil` literal: in `patch` a `nil` field means "remove", so null is spelled `.null`.
///
/// Equality and hashing follow Convex's total order (see `ValueOrder.swift`), so `NaN == NaN`
/// and `-0.0 != 0.0`, which is what an index or a result hash needs.
public enum Value: Sendable {
    case null
    case int64(Int64)
    case float64(Double)
    case boolean(Bool)
    case string(String)
    case bytes([UInt8])
    case array([Value])
    case object([String: Value])
}

extension Value {
    /// Convex's name for the value's type, as it appears in error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .int64: "bigint"
        case .float64: "number"
        case .boolean: "boolean"
        case .string: "string"
        case .bytes: "bytes"
        case .array: "array"
        case .object: "object"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        switch self {
        case .float64(let d): d
        case .int64(let i): Double(i)
        default: nil
        }
    }

    public var int64Value: Int64? {
        if case .int64(let i) = self { return i }
        return nil
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        return nil
    }

    public var arrayValue: [Value]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: Value]? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The field `key` of an object; `nil` for a missing field or a non-object.
    public subscript(key: String) -> Value? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}

extension Value: ExpressibleByBooleanLiteral, ExpressibleByStringLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(floatLiteral value: Double) { self = .float64(value) }
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, Value)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

/// Integer literals are Convex numbers (float64), as a JavaScript literal would be; use `.int64` for bigints.
extension Value: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) { self = .float64(Double(value)) }
}

extension Value: CustomStringConvertible {
    /// A JavaScript-like rendering used in error messages: `{ a: 1, b: "x" }`.
    public var description: String {
        switch self {
        case .null: return "null"
        case .int64(let i): return "\(i)n"
        case .float64(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
            if d == d.rounded(), abs(d) < 1e15 { return d.sign == .minus && d == 0 ? "-0" : String(Int64(d)) }
            return "\(d)"
        case .boolean(let b): return b ? "true" : "false"
        case .string(let s): return JSONWriter.quoted(s)
        case .bytes(let b): return "ArrayBuffer(\(b.count))"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .object(let o):
            if o.isEmpty { return "{}" }
            let fields = o.keys.sorted(by: utf8Less).map { "\($0): \(o[$0]!.description)" }
            return "{ " + fields.joined(separator: ", ") + " }"
        }
    }
}

extension Dictionary where Key == String, Value == RippleValues.Value {
    /// Calls `body` with every field in `utf8Less` order of the keys, the order of the binary
    /// forms. Documents are small: their fields are insertion-sorted into a buffer on the stack,
    /// read from the dictionary once, without hashing a key again.
    func forEachInKeyOrder(_ body: (String, RippleValues.Value) -> Void) {
        guard !isEmpty else { return }
        guard count <= 32 else {
            for (key, value) in sorted(by: { utf8Less($0.key, $1.key) }) { body(key, value) }
            return
        }
        withUnsafeTemporaryAllocation(of: Element.self, capacity: count) { buffer in
            let fields = buffer.baseAddress!
            var n = 0
            for field in self {
                var j = n
                while j > 0, utf8Less(field.key, fields[j - 1].key) { j -= 1 }
                (fields + j + 1).moveInitialize(from: fields + j, count: n - j)
                (fields + j).initialize(to: field)
                n += 1
            }
            defer { fields.deinitialize(count: n) }
            for i in 0..<n { body(fields[i].key, fields[i].value) }
        }
    }
}

/// Byte-wise UTF-8 order: Convex orders strings and field names this way, not by Unicode collation.
@inlinable
public func utf8Less(_ a: String, _ b: String) -> Bool {
    // In place where the UTF-8 is contiguous (native strings): `withUTF8` on copies retained and
    // released both strings at every comparison of a sort.
    let inPlace = a.utf8.withContiguousStorageIfAvailable { pa in
        b.utf8.withContiguousStorageIfAvailable { pb in
            let n = min(pa.count, pb.count)
            if n > 0 {
                let c = memcmpBytes(pa.baseAddress!, pb.baseAddress!, n)
                if c != 0 { return c < 0 }
            }
            return pa.count < pb.count
        }
    }
    if let less = inPlace ?? nil { return less }
    return a.utf8.lexicographicallyPrecedes(b.utf8)
}

@usableFromInline
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int {
    for i in 0..<n where a[i] != b[i] {
        return a[i] < b[i] ? -1 : 1
    }
    return 0
}
