/// An app's schema: its tables, their document validators and indexes.
public struct Schema: Sendable, Equatable {
    public var tables: [TableDefinition]

    public init(_ tables: [TableDefinition]) { self.tables = tables }

    public func table(named name: String) -> TableDefinition? { tables.first { $0.name == name } }
}

/// One table: the fields of its documents and the indexes over them.
public struct TableDefinition: Sendable, Equatable {
    public let name: String
    /// `nil` means schemaless: any object is accepted.
    public var fields: [String: Validator]? {
        didSet { documentValidator = Self.documentValidator(fields) }
    }
    public var indexes: [IndexDefinition] = []
    /// The validator for a whole stored document (user fields only). Kept, not computed: every
    /// write checks it, and building it boxes a new `Validator`.
    public private(set) var documentValidator: Validator
    /// The Swift type the table was declared from (`TableDefinition(Message.self)`), if any.
    public internal(set) var documentType: String?
    /// A mistake in a declaration from a Swift type, reported by `Schema.check()` at start-up:
    /// declarations do not throw.
    var problem: String?

    public init(_ name: String, _ fields: [String: Validator]?) {
        self.name = name
        self.fields = fields
        self.documentValidator = Self.documentValidator(fields)
    }

    /// Adds an index, as `defineTable(...).index("by_channel", ["channelId", "timestamp"])`.
    public func index(_ name: String, _ fields: [String]) -> TableDefinition {
        var copy = self
        copy.indexes.append(IndexDefinition(name: name, fields: fields))
        return copy
    }

    private static func documentValidator(_ fields: [String: Validator]?) -> Validator { fields.map { .object($0) } ?? .any }
}

/// A named index: equality/range lookups go through its fields in order.
public struct IndexDefinition: Sendable, Equatable, Hashable {
    public let name: String
    public let fields: [String]

    public init(name: String, fields: [String]) {
        self.name = name
        self.fields = fields
    }

    /// Every table has this index implicitly: documents in creation order (full scans use it).
    public static let byCreationTime = IndexDefinition(name: "by_creation_time", fields: [])
    /// Every table has this index implicitly: lookup by `_id`.
    public static let byID = IndexDefinition(name: "by_id", fields: ["_id"])
}

/// Problems with a schema definition itself, found when an app starts.
public struct SchemaError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Schema {
    /// Checks names and index definitions before anything is stored.
    public func check() throws(SchemaError) {
        var seen = Set<String>()
        for table in tables {
            guard !table.name.hasPrefix("_") else { throw SchemaError("Table name \"\(table.name)\" starts with `_`, which is reserved") }
            do { try FieldName.validateIdentifier(table.name) } catch { throw SchemaError("Invalid table name \"\(table.name)\": \(error)") }
            guard seen.insert(table.name).inserted else { throw SchemaError("Table \"\(table.name)\" is defined twice") }
            if let problem = table.problem { throw SchemaError(problem) }
            var indexNames = Set<String>()
            for index in table.indexes {
                guard indexNames.insert(index.name).inserted else {
                    throw SchemaError("Index \"\(index.name)\" is defined twice on table \"\(table.name)\"")
                }
                guard index.name != "by_id", index.name != "by_creation_time", !index.name.hasPrefix("_") else {
                    throw SchemaError("Index name \"\(index.name)\" on table \"\(table.name)\" is reserved")
                }
                guard !index.fields.isEmpty else { throw SchemaError("Index \"\(index.name)\" on table \"\(table.name)\" has no fields") }
                guard Set(index.fields).count == index.fields.count else {
                    throw SchemaError("Index \"\(index.name)\" on table \"\(table.name)\" names a field twice")
                }
                for field in index.fields where field == "_creationTime" || field == "_id" {
                    throw SchemaError("Index \"\(index.name)\" on table \"\(table.name)\" names \(field), which every index ends with already")
                }
                if let type = table.documentType, let fields = table.fields {
                    for field in index.fields where fields[String(field.prefix { $0 != "." })] == nil {
                        throw SchemaError("Index \"\(index.name)\" on table \"\(table.name)\" names field \"\(field)\", which \(type) does not have")
                    }
                }
            }
        }
    }
}
