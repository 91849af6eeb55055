import Foundation

/// Reads Convex values into `Decodable` Swift types: the inverse of `ValueEncoder`.
///
/// Numbers are read leniently where no information is lost: an integer type accepts a
/// `.float64` with an integral value in range (`3.0`, not `3.5`) as well as an `.int64`;
/// `Double` accepts an `.int64` that it holds exactly. A missing field and `.null` both decode
/// as `nil` for an optional. Errors are `DecodingError`s whose description names the Convex path,
/// e.g. `Expected a string at .items[2].name, found number 3`.
public struct ValueDecoder: Sendable {
    /// Handed to `init(from:)` implementations as `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    /// Reads `value` as a `T`; throws `DecodingError` whose description names the path that did not fit.
    public func decode<T: Decodable>(_ type: T.Type, from value: Value) throws -> T {
        do {
            return try DecodingState(value: value, codingPath: [], userInfo: userInfo).decodeValue(type)
        } catch DecodingError.dataCorrupted(let context) {
            // Thrown by `init(from:)` code we do not control (a raw-value enum meeting an unknown
            // case), whose message knows no path; add it, unless a `decode` nested in that code
            // already has.
            let path = convexPath(context.codingPath)
            guard (context.underlyingError as? PathNamed)?.path != path else { throw DecodingError.dataCorrupted(context) }
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: context.codingPath,
                    debugDescription: "\(context.debugDescription) at \(path)",
                    underlyingError: PathNamed(path: path, underlying: context.underlyingError)
                )
            )
        }
    }
}

/// The underlying error of a `dataCorrupted` whose message `ValueDecoder` has given its path:
/// marks it so that an enclosing `decode` does not add the path again.
struct PathNamed: Error {
    /// The Convex path the message ends with.
    let path: String
    /// The error's own underlying error, if it had one.
    let underlying: (any Error)?
}

// MARK: - Decoder

final class DecodingState: Decoder {
    let value: Value
    let codingPath: [any CodingKey]
    let sendableUserInfo: [CodingUserInfoKey: any Sendable]
    var userInfo: [CodingUserInfoKey: Any] { sendableUserInfo }

    init(value: Value, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: any Sendable]) {
        self.value = value
        self.codingPath = codingPath
        self.sendableUserInfo = userInfo
    }

    func child(_ value: Value, _ key: any CodingKey) -> DecodingState {
        DecodingState(value: value, codingPath: codingPath + [key], userInfo: sendableUserInfo)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let object) = value else { throw mismatch([String: Value].self, "an object") }
        return KeyedDecodingContainer(KeyedValueDecodingContainer<Key>(state: self, object: object))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch([Value].self, "an array") }
        return UnkeyedValueDecodingContainer(state: self, items: items)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleValueDecodingContainerImpl(state: self) }

    /// Decodes this state's value, with the types that have a Convex form of their own first.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == Value.self { return value as! T }
        if T.self == [UInt8].self || T.self == Data.self {
            guard case .bytes(let bytes) = value else { throw mismatch(T.self, "bytes") }
            return T.self == Data.self ? Data(bytes) as! T : bytes as! T
        }
        if T.self == Date.self {
            guard case .float64(let ms) = value, ms.isFinite else { throw mismatch(T.self, "a number of milliseconds since 1970") }
            return Date(timeIntervalSince1970: ms / 1000) as! T
        }
        return try T(from: self)
    }

    // MARK: Scalars

    func mismatch(_ type: Any.Type, _ expected: String) -> DecodingError {
        DecodingError.typeMismatch(
            type,
            DecodingError.Context(codingPath: codingPath, debugDescription: "Expected \(expected) at \(convexPath(codingPath)), found \(found)")
        )
    }

    /// The value as an error message shows it: scalars in full, containers by type only.
    var found: String {
        switch value {
        case .array: "an array"
        case .object: "an object"
        default: "\(value.typeName) \(value)"
        }
    }

    func decodeNil() -> Bool { value.isNull }

    func decode(_: Bool.Type) throws -> Bool {
        guard case .boolean(let b) = value else { throw mismatch(Bool.self, "a boolean") }
        return b
    }

    func decode(_: String.Type) throws -> String {
        guard case .string(let s) = value else { throw mismatch(String.self, "a string") }
        return s
    }

    func decode(_: Double.Type) throws -> Double {
        switch value {
        case .float64(let d): return d
        case .int64(let i):
            if let d = Double(exactly: i) { return d }
            throw mismatch(Double.self, "a number (the bigint does not fit a double exactly)")
        default: throw mismatch(Double.self, "a number")
        }
    }

    func decode(_: Float.Type) throws -> Float {
        let d = try decode(Double.self)
        let f = Float(d)
        guard f.isFinite || !d.isFinite else { throw mismatch(Float.self, "a number that fits in Float") }
        return f
    }

    func decode<I: FixedWidthInteger & Decodable>(_: I.Type) throws -> I {
        switch value {
        case .float64(let d):
            if let i = I(exactly: d) { return i }
        case .int64(let i):
            if let i = I(exactly: i) { return i }
        default:
            break
        }
        throw mismatch(I.self, "an integer that fits in \(I.self)")
    }
}

// MARK: - Containers

struct KeyedValueDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let state: DecodingState
    let object: [String: Value]
    var codingPath: [any CodingKey] { state.codingPath }
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    private func field(_ key: Key) throws -> DecodingState {
        guard let value = object[key.stringValue] else {
            let path = codingPath + [key]
            throw DecodingError.keyNotFound(
                key,
                DecodingError.Context(codingPath: codingPath, debugDescription: "Missing required field at \(convexPath(path))")
            )
        }
        return state.child(value, key)
    }

    /// A missing field counts as nil, as Convex's `undefined` does.
    func decodeNil(forKey key: Key) throws -> Bool { object[key.stringValue]?.isNull ?? true }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try field(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try field(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try field(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try field(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try field(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try field(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try field(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try field(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try field(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try field(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try field(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try field(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try field(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try field(key).decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try field(key).decodeValue(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try field(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try field(key).unkeyedContainer() }

    func superDecoder() throws -> any Decoder { state.child(object["super"] ?? .null, ValueCodingKey.superKey) }

    func superDecoder(forKey key: Key) throws -> any Decoder { state.child(object[key.stringValue] ?? .null, key) }
}

struct UnkeyedValueDecodingContainer: UnkeyedDecodingContainer {
    let state: DecodingState
    let items: [Value]
    private(set) var currentIndex = 0
    var codingPath: [any CodingKey] { state.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(state: DecodingState, items: [Value]) {
        self.state = state
        self.items = items
    }

    private mutating func next(_ type: Any.Type) throws -> DecodingState {
        let key = ValueCodingKey(index: currentIndex)
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(
                    codingPath: codingPath + [key],
                    debugDescription: "Expected an element at \(convexPath(codingPath + [key])), but the array has \(items.count)"
                )
            )
        }
        currentIndex += 1
        return state.child(items[currentIndex - 1], key)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type).decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next(type).decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type).decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type).decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type).decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type).decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type).decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type).decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type).decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type).decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type).decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type).decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type).decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type).decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decodeValue(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next(KeyedDecodingContainer<NestedKey>.self).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next((any UnkeyedDecodingContainer).self).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { try next((any Decoder).self) }
}

struct SingleValueDecodingContainerImpl: SingleValueDecodingContainer {
    let state: DecodingState
    var codingPath: [any CodingKey] { state.codingPath }

    func decodeNil() -> Bool { state.decodeNil() }
    func decode(_ type: Bool.Type) throws -> Bool { try state.decode(type) }
    func decode(_ type: String.Type) throws -> String { try state.decode(type) }
    func decode(_ type: Double.Type) throws -> Double { try state.decode(type) }
    func decode(_ type: Float.Type) throws -> Float { try state.decode(type) }
    func decode(_ type: Int.Type) throws -> Int { try state.decode(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try state.decode(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try state.decode(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try state.decode(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try state.decode(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try state.decode(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try state.decode(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try state.decode(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try state.decode(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try state.decode(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try state.decodeValue(type) }
}
