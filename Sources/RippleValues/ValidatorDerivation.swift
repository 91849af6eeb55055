import Foundation

/// A Swift type that names the Convex validator of its values, where the one derived from its
/// `Decodable` conformance would be wrong or impossible: an `ID<Channel>` is `v.id("channels")`,
/// not `v.string()`; a raw-value enum is a union of literals. Argument structs and documents need
/// no conformance: their validators are derived (`Validator.derived(from:)`).
public protocol ValidatorConvertible {
    /// The values this type decodes from, as a schema or argument list declares them.
    static var validator: Validator { get }
}

/// A Swift type that stands for the documents of one table: `ID<Message>` is then an id of
/// `"messages"`, validated as `v.id("messages")`. `TableDocument` refines it.
public protocol NamedTable {
    static var tableName: String { get }
}

extension ID: ValidatorConvertible {
    /// `v.id("table")` when the marker type names its table, else a plain string.
    public static var validator: Validator {
        (Table.self as? any NamedTable.Type).map { .id($0.tableName) } ?? .string
    }
}

extension Value: ValidatorConvertible {
    public static var validator: Validator { .any }
}

extension ValidatorConvertible where Self: RawRepresentable & CaseIterable, RawValue == String {
    /// A string enum accepts exactly its raw values: `v.union(v.literal("a"), v.literal("b"))`.
    public static var validator: Validator { .union(allCases.map { .literal(.string($0.rawValue)) }) }
}

/// Why a type's validator could not be derived, naming the type.
public struct ValidatorDerivationError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

extension Validator {
    /// The validator of the Convex values that `type` decodes from, found by running its
    /// `init(from:)` against a decoder that records what it asks for: a `String` property is
    /// `v.string()`, `Double` and `Int` are `v.number()`, `Int64` is `v.int64()`, an optional
    /// property is `v.optional(…)`, a nested struct is `v.object(…)`, `[T]` is `v.array(…)`,
    /// `[String: T]` is `v.record(v.string(), …)`, `Value` is `v.any()`, and a
    /// `ValidatorConvertible` type is what it says. So one declaration — the Swift type — serves
    /// validation, decoding and documentation.
    ///
    /// A type whose `init(from:)` checks the values it reads (beyond their types) must conform to
    /// `ValidatorConvertible` and be `CaseIterable`, or derivation fails naming it.
    public static func derived<T: Decodable>(from type: T.Type) throws(ValidatorDerivationError) -> Validator {
        do {
            return try ShapeProbe.shape(of: type).validator
        } catch {
            throw ValidatorDerivationError(message: "Cannot derive a validator from \(T.self): \(error)")
        }
    }

    /// The fields of an object validator derived from `type`: a function's arguments or a
    /// table's documents, which must be structs (Convex objects).
    public static func derivedFields<T: Decodable>(of type: T.Type) throws(ValidatorDerivationError) -> [String: Validator] {
        switch try derived(from: type) {
        case .object(let fields): return fields
        case let other: throw ValidatorDerivationError(message: "\(T.self) must decode from an object, but its validator is \(other)")
        }
    }
}

/// Field names behind key paths of a `Decodable` type: `\Message.channelId` → `"channelId"`, for
/// typed index ranges. The type is decoded once from a probe that gives every string field its
/// own path as value and every number field a distinct number; a key path is named by the value
/// it reads from that instance.
public struct FieldNames<Root: Codable> {
    let instance: Root
    let paths: [Value: String]

    public init() throws(ValidatorDerivationError) {
        do {
            let probe = ShapeProbe(codingPath: [], numbers: NumberSource())
            instance = try probe.decodeValue(Root.self)
            var paths: [Value: String] = [:]
            var ambiguous = Set<Value>()
            Self.collect(try ValueEncoder().encode(instance), path: "", into: &paths, ambiguous: &ambiguous)
            for value in ambiguous { paths[value] = nil }
            self.paths = paths
        } catch let error as ValidatorDerivationError {
            throw error
        } catch {
            throw ValidatorDerivationError(message: "Cannot name the fields of \(Root.self): \(error)")
        }
    }

    /// The dotted field path `keyPath` reads, e.g. `"author.name"`.
    public func name<T: Encodable>(of keyPath: KeyPath<Root, T>) throws(ValidatorDerivationError) -> String {
        let value: Value
        do { value = try ValueEncoder().encode(instance[keyPath: keyPath]) } catch {
            throw ValidatorDerivationError(message: "Cannot name the field of \(Root.self) at \(keyPath): \(error)")
        }
        guard let path = paths[value] else {
            throw ValidatorDerivationError(
                message: "Cannot tell which field of \(Root.self) \(keyPath) reads (only string, id and number fields are named by key path); name the field with a string")
        }
        return path
    }

    private static func collect(_ value: Value, path: String, into paths: inout [Value: String], ambiguous: inout Set<Value>) {
        if case .object(let fields) = value {
            for (name, field) in fields { collect(field, path: path.isEmpty ? name : "\(path).\(name)", into: &paths, ambiguous: &ambiguous) }
        } else if paths.updateValue(path, forKey: value) != nil {
            ambiguous.insert(value)
        }
    }
}

extension FieldNames: Sendable where Root: Sendable {}

// MARK: - The probing decoder

/// `[String: T]`, which decodes by iterating keys a probe does not have: its validator is
/// `v.record(v.string(), T's)`.
private protocol RecordShaped {
    static func valuesValidator(_ numbers: NumberSource) throws -> Validator
    static var empty: Self { get }
}

extension Dictionary: RecordShaped where Key == String, Value: Decodable {
    fileprivate static func valuesValidator(_ numbers: NumberSource) throws -> Validator {
        let probe = ShapeProbe(codingPath: [], numbers: numbers)
        _ = try probe.decodeValue(Value.self)
        return probe.shape.validator
    }

    fileprivate static var empty: Self { [:] }
}

/// Hands out distinct numbers to the number fields of one probe, so that key paths can tell them apart.
private final class NumberSource {
    var next = 1.0
    func take() -> Double {
        defer { next += 1 }
        return next
    }
}

/// What one probed value turned out to be.
private final class Shape {
    enum Kind {
        case unknown
        case scalar(Validator)
        case object([String: Validator], order: [String])
        case array(Validator?)
    }
    var kind = Kind.unknown
    /// `decodeNil` was asked before the value itself: the value may be null (a top-level
    /// `Optional`, an optional array element).
    var nullable = false

    var validator: Validator {
        let base: Validator =
            switch kind {
            case .unknown: .object([:])  // decoded nothing: an empty struct such as `NoArguments`
            case .scalar(let validator): validator
            case .object(let fields, _): .object(fields)
            case .array(let element): .array(element ?? .any)
            }
        return nullable ? .union([base, .null]) : base
    }
}

/// A `Decoder` that answers every request with a placeholder value and records the type asked
/// for. It decodes exactly what the type's `init(from:)` decodes, so it sees what the synthesized
/// `Codable` conformance sees: property names, types and optionality.
private final class ShapeProbe: Decoder {
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any] = [:]
    let shape = Shape()
    let numbers: NumberSource

    init(codingPath: [any CodingKey], numbers: NumberSource) {
        self.codingPath = codingPath
        self.numbers = numbers
    }

    static func shape<T: Decodable>(of type: T.Type) throws -> Shape {
        let probe = ShapeProbe(codingPath: [], numbers: NumberSource())
        _ = try probe.decodeValue(type)
        return probe.shape
    }

    /// The placeholder of a string: the field's path, so that key paths can name it.
    var placeholderString: String {
        codingPath.map(\.stringValue).joined(separator: ".")
    }

    func record(_ validator: Validator) {
        if case .unknown = shape.kind { shape.kind = .scalar(validator) }
    }

    /// Deeper than any Convex value may nest (arguments: 64 levels): a type that reaches it
    /// contains itself (`struct Node { var children: [Node] }`), and the probe would recurse
    /// until the stack overflows.
    static let maxDepth = 64

    /// Decodes a `T` here: types with a Convex form of their own first, then `init(from:)`.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        guard codingPath.count <= Self.maxDepth else {
            throw ValidatorDerivationError(
                message: "\(T.self) nests more than \(Self.maxDepth) levels at \(codingPath.prefix(4).map(\.stringValue).joined(separator: "."))…; a type that contains itself has no Convex validator")
        }
        if T.self == [UInt8].self { record(.bytes); return [] as! T }
        if T.self == Data.self { record(.bytes); return Data() as! T }
        if T.self == Date.self { record(.float64); return Date(timeIntervalSince1970: numbers.take()) as! T }
        if T.self == Value.self { record(.any); return Value.string(placeholderString) as! T }
        if let record = T.self as? any RecordShaped.Type {
            self.record(.record(keys: .string, values: try record.valuesValidator(numbers)))
            return record.empty as! T
        }
        guard let declared = T.self as? any ValidatorConvertible.Type else { return try T(from: self) }
        let validator = declared.validator
        defer { shape.kind = .scalar(validator) }
        do {
            return try T(from: self)
        } catch {
            // A type that checks what it decodes (a raw-value enum): any of its cases will do.
            if let cases = T.self as? any CaseIterable.Type, let first = Self.firstCase(of: cases) as? T { return first }
            throw error
        }
    }

    private static func firstCase<C: CaseIterable>(of type: C.Type) -> Any? { type.allCases.first }

    func child(_ key: any CodingKey) -> ShapeProbe { ShapeProbe(codingPath: codingPath + [key], numbers: numbers) }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        if case .unknown = shape.kind { shape.kind = .object([:], order: []) }
        return KeyedDecodingContainer(ProbeKeyedContainer<Key>(probe: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        if case .unknown = shape.kind { shape.kind = .array(nil) }
        return ProbeUnkeyedContainer(probe: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { ProbeSingleValueContainer(probe: self) }

    // MARK: Scalars, shared by the three containers

    func decodeScalar<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is Bool.Type: record(.boolean); return false as! T
        case is String.Type: record(.string); return placeholderString as! T
        case is Double.Type: record(.float64); return numbers.take() as! T
        case is Float.Type: record(.float64); return Float(numbers.take()) as! T
        case is Int64.Type: record(.int64); return Int64(numbers.take()) as! T
        case is UInt64.Type: record(.int64); return UInt64(numbers.take()) as! T
        case let integer as any (FixedWidthInteger & Decodable).Type:
            record(.float64)
            return Self.integer(integer, numbers.take()) as! T
        default: return try decodeValue(type)
        }
    }

    private static func integer<I: FixedWidthInteger>(_ type: I.Type, _ n: Double) -> I { I(exactly: n) ?? I.max }
}

private struct ProbeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let probe: ShapeProbe
    var codingPath: [any CodingKey] { probe.codingPath }
    var allKeys: [Key] { [] }

    func contains(_ key: Key) -> Bool { true }

    func decodeNil(forKey key: Key) throws -> Bool { false }

    private func field<T: Decodable>(_ type: T.Type, _ key: Key, optional: Bool) throws -> T {
        let child = probe.child(key)
        let value = try child.decodeScalar(type)
        let validator = child.shape.validator
        if case .object(var fields, var order) = probe.shape.kind {
            if fields[key.stringValue] == nil { order.append(key.stringValue) }
            fields[key.stringValue] = optional ? .optional(validator) : validator
            probe.shape.kind = .object(fields, order: order)
        }
        return value
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try field(type, key, optional: false) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try field(type, key, optional: false) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try field(type, key, optional: false) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try field(type, key, optional: false) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try field(type, key, optional: false) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try field(type, key, optional: false) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try field(type, key, optional: false) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try field(type, key, optional: false) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try field(type, key, optional: false) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try field(type, key, optional: false) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try field(type, key, optional: false) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try field(type, key, optional: false) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try field(type, key, optional: false) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try field(type, key, optional: false) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try field(type, key, optional: false) }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try field(type, key, optional: true) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try field(type, key, optional: true) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try field(type, key, optional: true) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try probe.child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try probe.child(key).unkeyedContainer() }

    func superDecoder() throws -> any Decoder { probe }
    func superDecoder(forKey key: Key) throws -> any Decoder { probe.child(key) }
}

/// An array of one element: enough to learn the element's validator.
private struct ProbeUnkeyedContainer: UnkeyedDecodingContainer {
    let probe: ShapeProbe
    var codingPath: [any CodingKey] { probe.codingPath }
    var count: Int? { 1 }
    var currentIndex = 0
    var isAtEnd: Bool { currentIndex > 0 }
    /// `decodeNil` was asked for the element: it may be null.
    private var nullable = false

    init(probe: ShapeProbe) { self.probe = probe }

    mutating func decodeNil() throws -> Bool {
        nullable = true
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let child = probe.child(ValueCodingKey(index: currentIndex))
        child.shape.nullable = nullable
        let value = try child.decodeScalar(type)
        if case .array(nil) = probe.shape.kind { probe.shape.kind = .array(child.shape.validator) }
        currentIndex += 1
        nullable = false
        return value
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try decode(Box<Bool>.self).value }
    mutating func decode(_ type: String.Type) throws -> String { try decode(Box<String>.self).value }
    mutating func decode(_ type: Double.Type) throws -> Double { try decode(Box<Double>.self).value }
    mutating func decode(_ type: Int.Type) throws -> Int { try decode(Box<Int>.self).value }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try decode(Box<Int64>.self).value }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        currentIndex += 1
        return try probe.child(ValueCodingKey(index: currentIndex - 1)).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        currentIndex += 1
        return try probe.child(ValueCodingKey(index: currentIndex - 1)).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { probe }
}

/// Routes an unkeyed container's scalar `decode` overloads through its generic one.
private struct Box<T: Decodable>: Decodable {
    let value: T
    init(from decoder: any Decoder) throws {
        value = try (decoder as! ShapeProbe).decodeScalar(T.self)
    }
}

private struct ProbeSingleValueContainer: SingleValueDecodingContainer {
    let probe: ShapeProbe
    var codingPath: [any CodingKey] { probe.codingPath }

    func decodeNil() -> Bool {
        probe.shape.nullable = true
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try probe.decodeScalar(type) }
    func decode(_ type: String.Type) throws -> String { try probe.decodeScalar(type) }
    func decode(_ type: Double.Type) throws -> Double { try probe.decodeScalar(type) }
    func decode(_ type: Float.Type) throws -> Float { try probe.decodeScalar(type) }
    func decode(_ type: Int.Type) throws -> Int { try probe.decodeScalar(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try probe.decodeScalar(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try probe.decodeScalar(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try probe.decodeScalar(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try probe.decodeScalar(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try probe.decodeScalar(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try probe.decodeScalar(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try probe.decodeScalar(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try probe.decodeScalar(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try probe.decodeScalar(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try probe.decodeScalar(type) }
}
