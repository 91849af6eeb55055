/// An order-preserving byte encoding of index fields: `memcmp` order of two keys equals
/// Convex's order of the values they encode (`Value.compare`), field by field.
///
/// Each value is a type tag then a payload; every encoding is self-delimiting, so keys of
/// several fields concatenate and a prefix of fields is a byte prefix of the key:
/// - missing field (`undefined`) 0x01; null 0x02; false 0x05; true 0x06;
/// - int64 0x03 + 8 big-endian bytes with the sign bit flipped;
/// - float64 0x04 + 8 big-endian bytes of the IEEE total-order key;
/// - string 0x07 / bytes 0x08 + content with 0x00 escaped as 0x00 0xFF, then 0x00;
/// - array 0x09 + elements + 0x00; object 0x0A + (0x01, escaped key, 0x00, value)* + 0x00.
/// No tag is 0x00 or 0xFF, which is what makes the terminators and `IndexKey.prefixEnd` work.
public struct IndexKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init() { self.bytes = [] }

    public static func < (a: IndexKey, b: IndexKey) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    public var description: String { bytes.map { String($0, radix: 16) }.joined(separator: " ") }

    enum Tag: UInt8 {
        case undefined = 0x01, null, int64, float64, falseValue, trueValue, string, bytes, array, object
    }

    /// Appends one field value; `nil` is a missing field.
    public mutating func append(_ value: Value?) {
        guard let value else {
            bytes.append(Tag.undefined.rawValue)
            return
        }
        Self.encode(value, into: &bytes)
    }

    /// The key that sorts after every key starting with `self` (all index keys continue after
    /// a complete field with a tag < 0xFF, or end, so `prefix + [0xFF]` bounds the prefix).
    public var prefixEnd: IndexKey { IndexKey(bytes: bytes + [0xFF]) }

    public static func encode(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(Tag.null.rawValue)
        case .int64(let i):
            out.append(Tag.int64.rawValue)
            appendBigEndian(UInt64(bitPattern: i) ^ (1 << 63), to: &out)
        case .float64(let d):
            out.append(Tag.float64.rawValue)
            appendBigEndian(Value.totalOrderKey(d), to: &out)
        case .boolean(let b): out.append(b ? Tag.trueValue.rawValue : Tag.falseValue.rawValue)
        case .string(var s):
            out.append(Tag.string.rawValue)
            s.withUTF8 { appendEscaped($0, to: &out) }
        case .bytes(let b):
            out.append(Tag.bytes.rawValue)
            b.withUnsafeBufferPointer { appendEscaped($0, to: &out) }
        case .array(let a):
            out.append(Tag.array.rawValue)
            for item in a { encode(item, into: &out) }
            out.append(0x00)
        case .object(let o):
            out.append(Tag.object.rawValue)
            o.forEachInKeyOrder { key, field in
                out.append(0x01)
                var k = key
                k.withUTF8 { appendEscaped($0, to: &out) }
                encode(field, into: &out)
            }
            out.append(0x00)
        }
    }

    static func appendBigEndian(_ v: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    static func appendEscaped(_ buf: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        for b in buf {
            out.append(b)
            if b == 0 { out.append(0xFF) }
        }
        out.append(0x00)
    }

    /// The key of one document in an index: its indexed fields, then `_creationTime` and `_id`,
    /// which make every key unique and order ties by creation.
    public static func forDocument(_ document: [String: Value], fields: [String]) -> IndexKey {
        DocumentIndexKeys(document).key(fields: fields)
    }
}

/// One document's keys in the indexes of its table. Every key ends with the same
/// `_creationTime` and `_id`: they are looked up and encoded once, not once per index.
public struct DocumentIndexKeys {
    let document: [String: Value]
    /// The key in an index of no fields (`by_creation_time`), and the end of every other key.
    let suffix: IndexKey

    public init(_ document: [String: Value]) {
        self.document = document
        var suffix = IndexKey()
        // A float and an id, with tags and terminator: allocated once, not grown byte by byte.
        suffix.bytes.reserveCapacity(48)
        suffix.append(document["_creationTime"])
        suffix.append(document["_id"])
        self.suffix = suffix
    }

    public func key(fields: [String]) -> IndexKey {
        guard !fields.isEmpty else { return suffix }
        var key = IndexKey()
        key.bytes.reserveCapacity(32 + suffix.bytes.count)
        for field in fields { key.append(document.lookup(path: field)) }
        key.bytes.append(contentsOf: suffix.bytes)
        return key
    }
}

extension Dictionary where Key == String, Value == RippleValues.Value {
    /// Looks up a dotted field path (`"author.name"`), as index fields may name nested fields.
    public func lookup(path: String) -> RippleValues.Value? {
        guard path.utf8.contains(UInt8(ascii: ".")) else { return self[path] }
        var current: RippleValues.Value? = .object(self)
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            guard case .object(let o)? = current else { return nil }
            current = o[String(part)]
        }
        return current
    }
}
