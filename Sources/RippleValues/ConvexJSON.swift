import Foundation

/// Convex's JSON encoding of values, as the official clients send and expect it:
/// int64 as `{"$integer": base64(LE)}`, bytes as `{"$bytes": base64}`, NaN/±Inf/-0 as
/// `{"$float": base64(LE)}`, every plain JSON number as a float64, objects with sorted keys.
extension Value {
    /// Encodes to Convex JSON.
    public var convexJSON: JSON {
        switch self {
        case .null: return .null
        case .int64(let i): return .object([("$integer", .string(base64LittleEndian(UInt64(bitPattern: i))))])
        case .float64(let d):
            if d.isFinite && !(d == 0 && d.sign == .minus) { return .number(d) }
            return .object([("$float", .string(base64LittleEndian(d.bitPattern)))])
        case .boolean(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .bytes(let b): return .object([("$bytes", .string(Data(b).base64EncodedString()))])
        case .array(let a): return .array(a.map(\.convexJSON))
        case .object(let o): return .object(o.keys.sorted(by: utf8Less).map { ($0, o[$0]!.convexJSON) })
        }
    }

    /// Lossy "clean" JSON (the HTTP API's `format: "json"`): int64 as a decimal string, bytes as
    /// a base64 string, non-finite floats as strings.
    public var cleanJSON: JSON {
        switch self {
        case .null: return .null
        case .int64(let i): return .string(String(i))
        case .float64(let d):
            if d.isNaN { return .string("NaN") }
            if d.isInfinite { return .string(d < 0 ? "-Infinity" : "Infinity") }
            return .number(d)
        case .boolean(let b): return .bool(b)
        case .string(let s): return .string(s)
        case .bytes(let b): return .string(Data(b).base64EncodedString())
        case .array(let a): return .array(a.map(\.cleanJSON))
        case .object(let o): return .object(o.keys.sorted(by: utf8Less).map { ($0, o[$0]!.cleanJSON) })
        }
    }

    /// Decodes Convex JSON. Field names are checked with `FieldName.validate` (no `$` prefix, …).
    public init(convexJSON json: JSON) throws(ValueError) {
        self = try Value.decode(json, path: "")
    }

    private static func decode(_ json: JSON, path: String) throws(ValueError) -> Value {
        switch json {
        case .null: return .null
        case .bool(let b): return .boolean(b)
        case .int(let i): return .float64(Double(i))
        case .number(let d): return .float64(d)
        case .string(let s): return .string(s)
        case .array(let items):
            var out: [Value] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() { out.append(try decode(item, path: "\(path)[\(i)]")) }
            return .array(out)
        case .object(let fields):
            if fields.count == 1, fields[0].0.hasPrefix("$") {
                return try decodeSpecial(key: fields[0].0, fields[0].1, path: path)
            }
            var out: [String: Value] = [:]
            out.reserveCapacity(fields.count)
            for (key, value) in fields {
                try FieldName.validate(key, path: path)
                if out[key] != nil { throw ValueError("Duplicate field `\(key)` in object at path \(path.isEmpty ? "." : path)") }
                out[key] = try decode(value, path: "\(path).\(key)")
            }
            return .object(out)
        }
    }

    private static func decodeSpecial(key: String, _ json: JSON, path: String) throws(ValueError) -> Value {
        let at = path.isEmpty ? "." : path
        let reserved = ValueError("Field name `\(key)` at \(at) starts with `$`, which is reserved")
        // Unknown keys first, so `{"$set": []}` is reported as a reserved name, not as bad base64.
        guard key == "$bytes" || key == "$integer" || key == "$float" else { throw reserved }
        guard case .string(let text) = json else { throw ValueError("`\(key)` at \(at) must hold a base64 string") }
        switch key {
        case "$bytes":
            guard let data = Data(base64Encoded: text) else { throw ValueError("`$bytes` at \(at) is not valid base64") }
            return .bytes([UInt8](data))
        case "$integer":
            guard let bits = decodeLittleEndian64(text) else { throw ValueError("`$integer` at \(at) must be 8 bytes of base64") }
            return .int64(Int64(bitPattern: bits))
        case "$float":
            guard let bits = decodeLittleEndian64(text) else { throw ValueError("`$float` at \(at) must be 8 bytes of base64") }
            let d = Double(bitPattern: bits)
            if d.isFinite && !(d == 0 && d.sign == .minus) {
                throw ValueError("`$float` at \(at) holds \(d), which must be sent as a plain JSON number")
            }
            return .float64(d)
        default:
            throw reserved
        }
    }
}

func base64LittleEndian(_ bits: UInt64) -> String {
    var le = bits.littleEndian
    return withUnsafeBytes(of: &le) { Data($0).base64EncodedString() }
}

func decodeLittleEndian64(_ text: String) -> UInt64? {
    guard let data = Data(base64Encoded: text), data.count == 8 else { return nil }
    var v: UInt64 = 0
    for (i, b) in data.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
    return v
}

/// Commit timestamps on the wire: base64 of the little-endian `u64` (protocol.md §3.2).
public enum WireTimestamp {
    public static func encode(_ ts: UInt64) -> String { base64LittleEndian(ts) }
    public static func decode(_ text: String) -> UInt64? { decodeLittleEndian64(text) }
}
