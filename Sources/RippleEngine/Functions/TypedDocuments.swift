import RippleValues

/// A Codable struct that is the shape of a table's documents (user fields only), for typed reads
/// and writes: `try ctx.db.insert(Message(...))` returns an `ID<Message>`, which the compiler
/// keeps apart from an `ID<User>`. Declare its table with `TableDefinition(Message.self)`.
public protocol TableDocument: Codable, Sendable, NamedTable {
    static var tableName: String { get }
}

/// A typed document: the record plus its system fields.
@dynamicMemberLookup
public struct Stored<Record: TableDocument>: Sendable {
    public let id: ID<Record>
    public let creationTime: Double
    public let record: Record

    public init(id: ID<Record>, creationTime: Double, record: Record) {
        self.id = id
        self.creationTime = creationTime
        self.record = record
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<Record, T>) -> T { record[keyPath: keyPath] }
}

/// A stored document travels as Convex sends documents: the record's fields plus `_id` and
/// `_creationTime`, so a typed query's result reaches clients exactly as an untyped one does.
extension Stored: Codable {
    private enum SystemField: String, CodingKey {
        case id = "_id"
        case creationTime = "_creationTime"
    }

    public init(from decoder: any Decoder) throws {
        let system = try decoder.container(keyedBy: SystemField.self)
        id = try system.decode(ID<Record>.self, forKey: .id)
        creationTime = try system.decode(Double.self, forKey: .creationTime)
        record = try Record(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try record.encode(to: encoder)
        var system = encoder.container(keyedBy: SystemField.self)
        try system.encode(id, forKey: .id)
        try system.encode(creationTime, forKey: .creationTime)
    }
}

extension Document {
    /// Decodes the user fields into `type`; errors name the field path that did not fit.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try ValueDecoder().decode(type, from: .object(userFields))
    }

    /// This document as a typed `Stored` record.
    public func stored<Record: TableDocument>(as type: Record.Type) throws -> Stored<Record> {
        Stored(id: ID(id), creationTime: creationTime, record: try decode(type))
    }
}

extension DatabaseReader {
    /// The typed document with this id, or `nil`.
    public func get<Record: TableDocument>(_ id: ID<Record>) throws -> Stored<Record>? {
        try get(id.rawValue)?.stored(as: Record.self)
    }
}

extension DatabaseWriter {
    @discardableResult
    public func insert<Record: TableDocument>(_ record: Record) throws -> ID<Record> {
        ID(try insert(Record.tableName, try Self.fields(of: record)))
    }

    public func replace<Record: TableDocument>(_ id: ID<Record>, _ record: Record) throws {
        try replace(id.rawValue, try Self.fields(of: record))
    }

    public func delete<Record: TableDocument>(_ id: ID<Record>) throws {
        try delete(id.rawValue)
    }

    /// Shallow-merges `fields` into the document: `try ctx.db.patch(id, ["content": text, "updatedAt": ctx.now])`.
    /// A `nil` value (or a `nil` optional) removes the field, as `undefined` does in Convex.
    public func patch<Record: TableDocument>(_ id: ID<Record>, _ fields: [String: (any ValueConvertible)?]) throws {
        try patch(id.rawValue, fields.mapValues { field in field.flatMap(\.presentValue) })
    }

    static func fields<Record: TableDocument>(of record: Record) throws -> [String: Value] {
        guard case .object(let fields) = try ValueEncoder().encode(record) else {
            throw TransactionError("\(Record.self) must encode as an object to be stored in table \"\(Record.tableName)\"")
        }
        return fields
    }
}

extension Arguments {
    /// Decodes all arguments into a Decodable struct (after validation by the function's validators).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try ValueDecoder().decode(type, from: .object(fields))
    }
}

extension ValueConvertible {
    /// The value, or `nil` for a `nil` optional: what a patch leaves out.
    var presentValue: Value? {
        if let optional = self as? any OptionalValue, optional.isNone { return nil }
        return convexValue
    }
}

/// Lets `patch` tell a `nil` optional (remove the field) from `Value.null` (store null).
private protocol OptionalValue {
    var isNone: Bool { get }
}

extension Optional: OptionalValue {
    var isNone: Bool { self == nil }
}

/// An untyped document in a typed result (a system table's document, say) travels as itself.
extension Document: Codable {
    public init(from decoder: any Decoder) throws {
        guard case .object(let fields) = try Value(from: decoder) else {
            throw DecodingError.typeMismatch(
                Document.self, .init(codingPath: decoder.codingPath, debugDescription: "Expected a document (an object)"))
        }
        self.init(fields: fields)
    }

    public func encode(to encoder: any Encoder) throws { try convexValue.encode(to: encoder) }
}

extension ID: ValueConvertible {
    public var convexValue: Value { .string(rawValue) }
}

extension Stored: ValueConvertible {
    public var convexValue: Value {
        var fields = (try? ValueEncoder().encode(record).objectValue) ?? [:]
        fields["_id"] = .string(id.rawValue)
        fields["_creationTime"] = .float64(creationTime)
        return .object(fields)
    }
}
