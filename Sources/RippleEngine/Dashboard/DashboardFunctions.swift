import RippleValues

/// The engine's functions behind the dashboard, under `_system/dashboard:`. Only
/// `Caller.system` reaches them (the dashboard calls them after checking the admin key), and
/// they are ordinary queries and mutations: a dashboard write is validated against the schema
/// by the same `Transaction` code as a function's write, commits through the committer and,
/// on a replica, is forwarded to the writer like any mutation.
public enum DashboardFunctions {
    public static let tables = "_system/dashboard:tables"
    public static let documents = "_system/dashboard:documents"
    public static let insert = "_system/dashboard:insert"
    public static let replace = "_system/dashboard:replace"
    public static let delete = "_system/dashboard:delete"
    public static let schedulerLease = "_system/dashboard:schedulerLease"

    /// Most documents one page of the data view returns.
    public static let maxPageSize = 100
    /// Most documents a filter without a fitting index reads for one page, so a rare value in a
    /// big table costs a bounded scan and an "incomplete" page rather than the read limit.
    public static let maxFilterScan = 2_000

    static let registry: FunctionRegistry = {
        var functions = FunctionRegistry()
        functions.internalQuery(tables, args: nil) { ctx, _ in try tableSummaries(ctx.db.transaction) }
        functions.internalQuery(documents, args: nil) { ctx, args in try page(ctx.db.transaction, args) }
        functions.internalMutation(insert, args: nil) { ctx, args in
            let fields = try args["fields"]?.objectValue ?? { throw UserError("insert: `fields` must be an object") }()
            return Value.string(try ctx.db.insert(try args.string("table"), fields))
        }
        functions.internalMutation(replace, args: nil) { ctx, args in
            let fields = try args["fields"]?.objectValue ?? { throw UserError("replace: `fields` must be an object") }()
            try ctx.db.replace(try args.string("id"), fields)
            return Value.null
        }
        functions.internalMutation(delete, args: nil) { ctx, args in
            try ctx.db.delete(try args.string("id"))
            return Value.null
        }
        functions.internalQuery(schedulerLease, args: nil) { ctx, _ in
            try ctx.db.system.query(SystemTables.schedulerLease).first()?.convexValue ?? .null
        }
        return functions
    }()

    /// Every table (app and system) with its document count, indexes and declared fields.
    private static func tableSummaries(_ transaction: Transaction) throws -> Value {
        let catalog = transaction.catalog
        let schema = transaction.schema.withSystemTables
        var summaries: [Value] = []
        for table in catalog.tablesByName.values.sorted(by: { $0.name < $1.name }) {
            let indexes = catalog.indexes(of: table.number)
            guard let byCreation = indexes.first(where: { $0.name == IndexDefinition.byCreationTime.name }) else { continue }
            // Every document has exactly one entry in its table's creation-time index.
            let count = try transaction.store.indexEntryCount(index: byCreation.number)
            let definition = schema.table(named: table.name)
            summaries.append([
                "name": .string(table.name),
                "system": .boolean(SystemTables.isSystem(table.name)),
                "documents": .float64(Double(count)),
                "indexes": .array(indexes.sorted { $0.name < $1.name }.map { index in
                    ["name": .string(index.name), "fields": .array(index.fields.map(Value.string)), "state": .string("\(index.state)")]
                }),
                "validator": definition?.fields.map { .string(Validator.object($0).description) } ?? .null,
            ])
        }
        return .array(summaries)
    }

    /// One page of a table, newest first: `{table, pageSize, cursor?, field?, value?}`. A filter
    /// uses an index whose first field is the filtered one when there is one, else the
    /// creation-time index with a bounded scan; the answer names the index it used.
    private static func page(_ transaction: Transaction, _ args: Arguments) throws -> Value {
        let tableName = try args.string("table")
        let pageSize = Int(args["pageSize"]?.doubleValue ?? 25)
        guard (1...maxPageSize).contains(pageSize) else { throw UserError("pageSize must be 1...\(maxPageSize), got \(pageSize)") }
        let cursor = try args.optionalString("cursor")
        let initializer = QueryInitializer(transaction: transaction, tableName: tableName, system: true)
        guard let field = try args.optionalString("field"), !field.isEmpty else {
            let result = try initializer.withIndex(IndexDefinition.byCreationTime.name).order(.desc).paginate(numItems: pageSize, cursor: cursor)
            return answer(result, index: IndexDefinition.byCreationTime.name, scanned: false)
        }
        let value = args["value"] ?? .null
        let table = try transaction.table(named: tableName, system: true)
        let fitting = transaction.catalog.indexes(of: table.number)
            .filter { $0.fields.first == field && $0.state == .ready }
            .min { $0.fields.count < $1.fields.count }
        if let fitting {
            let query = try initializer.withIndex(fitting.name) { $0.eq(field, value) }.order(.desc)
            return answer(try query.paginate(numItems: pageSize, cursor: cursor), index: fitting.name, scanned: false)
        }
        let query = try initializer.withIndex(IndexDefinition.byCreationTime.name).order(.desc)
            .filter { lookup(field, in: .object($0.fields)) == value }
        let result = try query.paginate(numItems: pageSize, cursor: cursor, maximumRowsRead: maxFilterScan)
        return answer(result, index: IndexDefinition.byCreationTime.name, scanned: true)
    }

    private static func answer(_ result: PaginationResult, index: String, scanned: Bool) -> Value {
        [
            "page": .array(result.page.map(\.convexValue)), "isDone": .boolean(result.isDone),
            "continueCursor": .string(result.continueCursor), "index": .string(index), "filteredScan": .boolean(scanned),
        ]
    }

    /// The value at a dotted field path (`"author.name"`), nil when absent.
    static func lookup(_ path: String, in value: Value) -> Value? {
        var current: Value? = value
        for part in path.split(separator: ".") { current = current?.objectValue?[String(part)] }
        return current
    }
}
