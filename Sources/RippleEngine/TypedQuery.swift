import RippleValues
import Synchronization

/// Typed reads: `ctx.db.query(Message.self).withIndex("by_channel") { $0.eq(\.channelId, id) }`
/// gives `Stored<Message>` documents, and index fields are named by key path, so a renamed
/// property or a value of the wrong type does not compile.
extension DatabaseReader {
    /// Starts a query on `Record`'s table.
    public func query<Record: TableDocument>(_ type: Record.Type) -> TypedQueryInitializer<Record> {
        TypedQueryInitializer(untyped: query(Record.tableName))
    }
}

/// `ctx.db.query(Message.self)`: pick an index, or scan the table in creation order.
public struct TypedQueryInitializer<Record: TableDocument> {
    let untyped: QueryInitializer

    /// Queries through a named index with an optional range of its fields.
    public func withIndex(
        _ name: String, _ range: (TypedIndexRange<Record>) -> TypedIndexRange<Record> = { $0 }
    ) throws -> TypedQuery<Record> {
        let typed = range(TypedIndexRange())
        if let problem = typed.problem { throw TransactionError("withIndex(\"\(name)\") on \(Record.tableName): \(problem)") }
        return TypedQuery(untyped: try untyped.withIndex(name) { _ in typed.untyped })
    }

    /// Scans every document of the table in creation order. Allowed, but counted.
    public func fullTableScan() throws -> TypedQuery<Record> { TypedQuery(untyped: try untyped.fullTableScan()) }

    public func order(_ order: Order) throws -> TypedQuery<Record> { try fullTableScan().order(order) }
    public func filter(_ predicate: @escaping (Stored<Record>) throws -> Bool) throws -> TypedQuery<Record> {
        try fullTableScan().filter(predicate)
    }
    public func take(_ n: Int) throws -> [Stored<Record>] { try fullTableScan().take(n) }
    public func first() throws -> Stored<Record>? { try fullTableScan().first() }
    public func unique() throws -> Stored<Record>? { try fullTableScan().unique() }
    public func collect() throws -> [Stored<Record>] { try fullTableScan().collect() }
    public func paginate(_ options: PaginationOpts) throws -> Page<Stored<Record>> { try fullTableScan().paginate(options) }
}

/// A typed query over one index range; documents are decoded as `Record`s as they are read.
public struct TypedQuery<Record: TableDocument> {
    var untyped: Query

    public func order(_ order: Order) -> TypedQuery { TypedQuery(untyped: untyped.order(order)) }

    /// Keeps only documents for which `predicate` is true; filtered-out documents still count as read.
    public func filter(_ predicate: @escaping (Stored<Record>) throws -> Bool) -> TypedQuery {
        TypedQuery(untyped: untyped.filter { try predicate(try $0.stored(as: Record.self)) })
    }

    public func take(_ n: Int) throws -> [Stored<Record>] { try untyped.take(n).map { try $0.stored(as: Record.self) } }
    public func first() throws -> Stored<Record>? { try untyped.first()?.stored(as: Record.self) }
    public func unique() throws -> Stored<Record>? { try untyped.unique()?.stored(as: Record.self) }
    public func collect() throws -> [Stored<Record>] { try untyped.collect().map { try $0.stored(as: Record.self) } }

    /// One page, as Convex's `paginate(paginationOpts)`.
    public func paginate(_ options: PaginationOpts) throws -> Page<Stored<Record>> {
        let result = try untyped.paginate(options.value)
        return Page(
            page: try result.page.map { try $0.stored(as: Record.self) }, isDone: result.isDone, continueCursor: result.continueCursor)
    }
}

/// An index range over `Record`'s fields, named by key path (`$0.eq(\.channelId, id)`) or, for
/// nested paths the key path cannot reach, by name (`$0.eq("author.name", name)`).
public struct TypedIndexRange<Record: TableDocument> {
    var untyped = IndexRange()
    /// The first key path that could not be named or value that could not be encoded; reported
    /// by `withIndex`, since range closures do not throw.
    var problem: String?

    public func eq<T: Encodable>(_ field: KeyPath<Record, T>, _ value: T) -> Self { bound(field, value) { $0.eq($1, $2) } }
    public func gt<T: Encodable>(_ field: KeyPath<Record, T>, _ value: T) -> Self { bound(field, value) { $0.gt($1, $2) } }
    public func gte<T: Encodable>(_ field: KeyPath<Record, T>, _ value: T) -> Self { bound(field, value) { $0.gte($1, $2) } }
    public func lt<T: Encodable>(_ field: KeyPath<Record, T>, _ value: T) -> Self { bound(field, value) { $0.lt($1, $2) } }
    public func lte<T: Encodable>(_ field: KeyPath<Record, T>, _ value: T) -> Self { bound(field, value) { $0.lte($1, $2) } }

    public func eq(_ field: String, _ value: some ValueConvertible) -> Self { with { $0.eq(field, value) } }
    public func gt(_ field: String, _ value: some ValueConvertible) -> Self { with { $0.gt(field, value) } }
    public func gte(_ field: String, _ value: some ValueConvertible) -> Self { with { $0.gte(field, value) } }
    public func lt(_ field: String, _ value: some ValueConvertible) -> Self { with { $0.lt(field, value) } }
    public func lte(_ field: String, _ value: some ValueConvertible) -> Self { with { $0.lte(field, value) } }

    private func with(_ change: (IndexRange) -> IndexRange) -> Self {
        var copy = self
        copy.untyped = change(untyped)
        return copy
    }

    private func bound<Field, T: Encodable>(
        _ keyPath: KeyPath<Record, Field>, _ value: T, _ change: (IndexRange, String, Value) -> IndexRange
    ) -> Self where Field: Encodable {
        guard problem == nil else { return self }
        var copy = self
        do {
            let name = try FieldNames<Record>.cached().name(of: keyPath)
            copy.untyped = change(untyped, name, try ValueEncoder().encode(value))
        } catch {
            copy.problem = "\(error)"
        }
        return copy
    }
}

/// Field names of the document types queried on this node, computed once per type.
private let fieldNamesByType = Mutex<[ObjectIdentifier: any Sendable]>([:])

extension FieldNames where Root: TableDocument {
    static func cached() throws(ValidatorDerivationError) -> FieldNames<Root> {
        let key = ObjectIdentifier(Root.self)
        if let names = fieldNamesByType.withLock({ $0[key] }) as? FieldNames<Root> { return names }
        let names = try FieldNames<Root>()
        fieldNamesByType.withLock { $0[key] = names }
        return names
    }
}

/// Convex's `paginationOpts` argument (`{numItems, cursor, endCursor?, maximumRowsRead?, …}`),
/// validated like `paginationOptsValidator` and checked by `paginate` as it always was.
public struct PaginationOpts: Codable, Sendable, ValidatorConvertible {
    /// The options as the client sent them.
    public let value: Value

    public static let validator = Validator.object([
        "numItems": .float64,
        "cursor": .union([.string, .null]),
        "endCursor": .optional(.union([.string, .null])),
        "id": .optional(.float64),
        "maximumRowsRead": .optional(.float64),
        "maximumBytesRead": .optional(.float64),
    ])

    public init(numItems: Int, cursor: String?) {
        value = .object(["numItems": .float64(Double(numItems)), "cursor": cursor.map(Value.string) ?? .null])
    }

    public init(from decoder: any Decoder) throws { value = try Value(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}

/// One page of a paginated query, as Convex returns it to `usePaginatedQuery`.
public struct Page<Item: Codable & Sendable>: Codable, Sendable {
    public let page: [Item]
    public let isDone: Bool
    public let continueCursor: String

    private enum CodingKeys: String, CodingKey { case page, isDone, continueCursor, splitCursor, pageStatus }

    public init(page: [Item], isDone: Bool, continueCursor: String) {
        self.page = page
        self.isDone = isDone
        self.continueCursor = continueCursor
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        page = try container.decode([Item].self, forKey: .page)
        isDone = try container.decode(Bool.self, forKey: .isDone)
        continueCursor = try container.decode(String.self, forKey: .continueCursor)
    }

    /// With `splitCursor` and `pageStatus` null, as the untyped `PaginationResult` sends them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(page, forKey: .page)
        try container.encode(isDone, forKey: .isDone)
        try container.encode(continueCursor, forKey: .continueCursor)
        try container.encodeNil(forKey: .splitCursor)
        try container.encodeNil(forKey: .pageStatus)
    }
}
