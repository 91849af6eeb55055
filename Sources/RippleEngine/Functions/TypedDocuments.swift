import RippleValues

/// A Codable struct that is the shape of a table's documents (user fields only), for typed reads
/// and writes: `try ctx.db.insert(Message(...))` returns an `ID<Message>`, which the compiler
/// keeps apart from an `ID<User>`.
public protocol TableDocument: Codable, Sendable {
    static var tableName: String { get }
}

/// A typed document: the record plus its system fields.
@dynamicMemberLookup
public struct Stored<Record: TableDocument>: Sendable {
    public let id: ID<Record>
    public let creationTime: Double
    public let record: Record

    public subscript<T>(dynamicMember keyPath: KeyPath<Record, T>) -> T { record[keyPath: keyPath] }
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
