/// The compact binary form in which documents are stored and shipped in the commit log.
///
/// Tag byte, then: int64/float64 as 8 little-endian bytes; strings and bytes as a varint length
/// and the raw bytes; arrays as a varint count and elements; objects as a varint count and
/// `(varint key length, key, value)` in key order. Not order-preserving (see `IndexKey`).
public enum ValueCodec {
    enum Tag: UInt8 {
        case null = 0, int64, float64, falseValue, trueValue, string, bytes, array, object
    }

    public static func encode(_ value: Value) -> [UInt8] {
        var out: [UInt8] = []
        // Within a few bytes of the encoded size, so the buffer is allocated once.
        out.reserveCapacity(value.approximateSize + 16)
        encode(value, into: &out)
        return out
    }

    public static func encode(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(Tag.null.rawValue)
        case .int64(let i):
            out.append(Tag.int64.rawValue)
            appendFixed64(UInt64(bitPattern: i), to: &out)
        case .float64(let d):
            out.append(Tag.float64.rawValue)
            appendFixed64(d.bitPattern, to: &out)
        case .boolean(let b): out.append(b ? Tag.trueValue.rawValue : Tag.falseValue.rawValue)
        case .string(var s):
            out.append(Tag.string.rawValue)
            s.withUTF8 { buf in
                appendVarint(UInt64(buf.count), to: &out)
                out.append(contentsOf: buf)
            }
        case .bytes(let b):
            out.append(Tag.bytes.rawValue)
            appendVarint(UInt64(b.count), to: &out)
            out.append(contentsOf: b)
        case .array(let a):
            out.append(Tag.array.rawValue)
            appendVarint(UInt64(a.count), to: &out)
            for item in a { encode(item, into: &out) }
        case .object(let o):
            out.append(Tag.object.rawValue)
            appendVarint(UInt64(o.count), to: &out)
            o.forEachInKeyOrder { key, field in
                var k = key
                k.withUTF8 { buf in
                    appendVarint(UInt64(buf.count), to: &out)
                    out.append(contentsOf: buf)
                }
                encode(field, into: &out)
            }
        }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ValueError) -> Value {
        var reader = ByteReader(bytes)
        let v = try decodeValue(&reader, depth: 0)
        guard reader.isAtEnd else { throw ValueError("stored value has trailing bytes") }
        return v
    }

    public static func decode(_ bytes: [UInt8]) throws(ValueError) -> Value {
        let result: Result<Value, ValueError> = bytes.withUnsafeBytes { buf in
            do throws(ValueError) { return .success(try decode(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func decodeValue(_ r: inout ByteReader, depth: Int) throws(ValueError) -> Value {
        // Lengths are clamped, not converted with `Int(_:)`, which traps on a corrupt varint above
        // `Int.max`; the checks against `remaining` then reject them.
        guard depth < 256 else { throw ValueError("stored value nested too deeply") }
        guard let tag = Tag(rawValue: try r.byte()) else { throw ValueError("stored value has an unknown tag") }
        switch tag {
        case .null: return .null
        case .int64: return .int64(Int64(bitPattern: try r.fixed64()))
        case .float64: return .float64(Double(bitPattern: try r.fixed64()))
        case .falseValue: return .boolean(false)
        case .trueValue: return .boolean(true)
        case .string: return .string(try r.string(count: Int(clamping: try r.varint())))
        case .bytes: return .bytes(try r.bytes(count: Int(clamping: try r.varint())))
        case .array:
            let n = Int(clamping: try r.varint())
            guard n <= r.remaining else { throw ValueError("stored array count is corrupt") }
            var items: [Value] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try decodeValue(&r, depth: depth + 1)) }
            return .array(items)
        case .object:
            let n = Int(clamping: try r.varint())
            guard n <= r.remaining else { throw ValueError("stored object count is corrupt") }
            var fields: [String: Value] = [:]
            fields.reserveCapacity(n)
            for _ in 0..<n {
                let key = try r.string(count: Int(clamping: try r.varint()))
                fields[key] = try decodeValue(&r, depth: depth + 1)
            }
            return .object(fields)
        }
    }
}

@inlinable
public func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
    var v = value
    while v >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
}

@inlinable
public func appendFixed64(_ value: UInt64, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// Reads the binary forms above, failing cleanly on truncated or corrupt input.
public struct ByteReader {
    let buffer: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    public var isAtEnd: Bool { offset == buffer.count }
    public var remaining: Int { buffer.count - offset }

    public mutating func byte() throws(ValueError) -> UInt8 {
        guard offset < buffer.count else { throw ValueError("truncated value") }
        defer { offset += 1 }
        return buffer[offset]
    }

    public mutating func fixed64() throws(ValueError) -> UInt64 {
        guard offset + 8 <= buffer.count else { throw ValueError("truncated value") }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(buffer[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    public mutating func varint() throws(ValueError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw ValueError("varint overflow") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw ValueError("varint overflow") }
        }
    }

    public mutating func bytes(count: Int) throws(ValueError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw ValueError("truncated value") }
        defer { offset += count }
        return Array(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count]))
    }

    public mutating func string(count: Int) throws(ValueError) -> String {
        guard count >= 0, count <= remaining else { throw ValueError("truncated value") }
        defer { offset += count }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + count])
        guard let s = String(validating: slice, as: UTF8.self) else {
            throw ValueError("stored string is not UTF-8")
        }
        return s
    }
}
