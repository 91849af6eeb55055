import Foundation

/// Turns `Encodable` Swift values into Convex values, so that documents and function arguments
/// can be Swift structs instead of hand-built `Value` trees.
///
/// The mapping follows the JavaScript client, where `number` and `bigint` are different types:
/// - `Double`, `Float`, `Int` and the other fixed-width integers → `.float64` (`v.number()`);
///   an integer that a double cannot hold exactly (beyond ±2^53) is an error, not a silent rounding;
/// - `Int64` → `.int64` (`v.int64()`, a bigint); `UInt64` too, if it fits;
/// - `[UInt8]` and `Data` → `.bytes`; `Value` as is; `ID<T>` → its id string;
/// - `Date` → milliseconds since 1970 as `.float64`, as `Date.now()` and `_creationTime` are;
/// - `nil` optionals are left out of their object (a missing field, Convex's `undefined`);
///   use `Value.null` for a stored null. In arrays, where nothing can be missing, `nil` is `.null`.
///
/// Field names must be valid Convex field names (`FieldName.validate`); a `$`-prefixed key, for
/// instance, is an `EncodingError` naming its path.
public struct ValueEncoder: Sendable {
    /// Handed to `encode(to:)` implementations as `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// The Convex value of `value`; throws `EncodingError` for numbers or field names Convex cannot hold.
    public func encode<T: Encodable>(_ value: T) throws -> Value {
        let root = EncodingNode()
        try EncodingState(node: root, codingPath: [], userInfo: userInfo).encodeValue(value)
        return try root.resolve(codingPath: [])
    }
}

// MARK: - Tree being built

/// A value under construction. Containers hand out child nodes before their contents are
/// written (nested containers, `superEncoder`), so nodes are references, resolved at the end.
final class EncodingNode {
    enum Kind { case unset, scalar, object, array }

    var kind = Kind.unset
    var scalar = Value.null
    var fields: [String: EncodingNode] = [:]
    var items: [EncodingNode] = []

    func set(_ value: Value) {
        kind = .scalar
        scalar = value
        fields = [:]
        items = []
    }

    func makeObject() {
        guard kind != .object else { return }
        kind = .object
        items = []
    }

    func makeArray() {
        guard kind != .array else { return }
        kind = .array
        fields = [:]
    }

    /// The field `name`, created empty; writing a field twice keeps the last value.
    func field(_ name: String) -> EncodingNode {
        let child = EncodingNode()
        fields[name] = child
        return child
    }

    func append() -> EncodingNode {
        let child = EncodingNode()
        items.append(child)
        return child
    }

    /// The finished value; checks field names here, where every name's full path is known.
    func resolve(codingPath: [any CodingKey]) throws -> Value {
        switch kind {
        case .unset: return .object([:])
        case .scalar: return scalar
        case .array:
            var out: [Value] = []
            out.reserveCapacity(items.count)
            for (i, item) in items.enumerated() { out.append(try item.resolve(codingPath: codingPath + [ValueCodingKey(index: i)])) }
            return .array(out)
        case .object:
            var out: [String: Value] = [:]
            out.reserveCapacity(fields.count)
            for (name, child) in fields {
                let path = codingPath + [ValueCodingKey(stringValue: name)]
                do {
                    try FieldName.validate(name, path: codingPath.isEmpty ? "" : convexPath(codingPath))
                } catch {
                    throw EncodingError.invalidValue(name, EncodingError.Context(codingPath: path, debugDescription: error.message))
                }
                out[name] = try child.resolve(codingPath: path)
            }
            return .object(out)
        }
    }
}

// MARK: - Encoder

final class EncodingState: Encoder {
    let node: EncodingNode
    let codingPath: [any CodingKey]
    let sendableUserInfo: [CodingUserInfoKey: any Sendable]
    var userInfo: [CodingUserInfoKey: Any] { sendableUserInfo }

    init(node: EncodingNode, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: any Sendable]) {
        self.node = node
        self.codingPath = codingPath
        self.sendableUserInfo = userInfo
    }

    func child(_ node: EncodingNode, _ key: any CodingKey) -> EncodingState {
        EncodingState(node: node, codingPath: codingPath + [key], userInfo: sendableUserInfo)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedValueEncodingContainer<Key>(state: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedValueEncodingContainer(state: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueEncodingContainerImpl(state: self) }

    /// Encodes into this state's node, with the types that have a Convex form of their own first.
    func encodeValue<T: Encodable>(_ value: T) throws {
        if let v = value as? Value {
            node.set(v)
        } else if T.self == [UInt8].self, let bytes = value as? [UInt8] {
            node.set(.bytes(bytes))
        } else if let data = value as? Data {
            node.set(.bytes([UInt8](data)))
        } else if let date = value as? Date {
            node.set(.float64(date.timeIntervalSince1970 * 1000))
        } else {
            try value.encode(to: self)
        }
    }

    // MARK: Scalars

    func number<I: BinaryInteger>(_ value: I, _ path: [any CodingKey]) throws -> Value {
        guard let d = Double(exactly: value) else {
            throw EncodingError.invalidValue(
                value,
                EncodingError.Context(
                    codingPath: path,
                    debugDescription: "\(I.self) \(value) at \(convexPath(path)) is not exactly representable as a Convex number "
                        + "(float64); use Int64 for a bigint"
                )
            )
        }
        return .float64(d)
    }

    func bigint(_ value: UInt64, _ path: [any CodingKey]) throws -> Value {
        guard let i = Int64(exactly: value) else {
            throw EncodingError.invalidValue(
                value,
                EncodingError.Context(codingPath: path, debugDescription: "UInt64 \(value) at \(convexPath(path)) does not fit in a Convex int64")
            )
        }
        return .int64(i)
    }
}

// MARK: - Containers

struct KeyedValueEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: EncodingState
    var codingPath: [any CodingKey] { state.codingPath }

    private func set(_ value: Value, _ key: Key) { state.node.field(key.stringValue).set(value) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.boolean(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(.float64(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(.float64(Double(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.int64(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(try state.number(value, codingPath + [key]), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(try state.bigint(value, codingPath + [key]), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try state.child(state.node.field(key.stringValue), key).encodeValue(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        state.child(state.node.field(key.stringValue), key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        state.child(state.node.field(key.stringValue), key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { state.child(state.node.field("super"), ValueCodingKey.superKey) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { state.child(state.node.field(key.stringValue), key) }
}

struct UnkeyedValueEncodingContainer: UnkeyedEncodingContainer {
    let state: EncodingState
    var codingPath: [any CodingKey] { state.codingPath }
    var count: Int { state.node.items.count }

    private var nextKey: ValueCodingKey { ValueCodingKey(index: count) }
    private func append(_ value: Value) { state.node.append().set(value) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.boolean(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(.float64(value)) }
    mutating func encode(_ value: Float) throws { append(.float64(Double(value))) }
    mutating func encode(_ value: Int) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: Int8) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: Int16) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: Int32) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: Int64) throws { append(.int64(value)) }
    mutating func encode(_ value: UInt) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: UInt8) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: UInt16) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: UInt32) throws { append(try state.number(value, codingPath + [nextKey])) }
    mutating func encode(_ value: UInt64) throws { append(try state.bigint(value, codingPath + [nextKey])) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let key = nextKey
        try state.child(state.node.append(), key).encodeValue(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let key = nextKey
        return state.child(state.node.append(), key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let key = nextKey
        return state.child(state.node.append(), key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let key = nextKey
        return state.child(state.node.append(), key)
    }
}

struct SingleValueEncodingContainerImpl: SingleValueEncodingContainer {
    let state: EncodingState
    var codingPath: [any CodingKey] { state.codingPath }

    private func set(_ value: Value) { state.node.set(value) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.boolean(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(.float64(value)) }
    mutating func encode(_ value: Float) throws { set(.float64(Double(value))) }
    mutating func encode(_ value: Int) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: Int8) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: Int16) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: Int32) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: Int64) throws { set(.int64(value)) }
    mutating func encode(_ value: UInt) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: UInt8) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: UInt16) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: UInt32) throws { set(try state.number(value, codingPath)) }
    mutating func encode(_ value: UInt64) throws { set(try state.bigint(value, codingPath)) }
    mutating func encode<T: Encodable>(_ value: T) throws { try state.encodeValue(value) }
}
