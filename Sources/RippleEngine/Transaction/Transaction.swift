import RippleLog
import RippleReactivity
import RippleStorage
import RippleValues

/// Where a mutation's new documents get their numbers and randomness, and its timestamp.
/// Owned by the committer; one per mutation.
struct WriteContext {
    let ts: CommitTimestamp
    let allocate: () -> (number: Int64, random: UInt64)
}

/// One function execution's view of the database: reads at one snapshot (a read transaction,
/// or the writer's open transaction for a mutation), recording the read set and counting usage
/// against the limits; and, for mutations, writes with schema validation and index maintenance.
final class Transaction {
    let store: Store
    let schema: Schema
    let identity: Identity
    let tableNumbers: TableNumberLookup
    private(set) var readSet = ReadSet()
    var usage: TransactionUsage
    private(set) var fullTableScans = 0

    /// The end cursor a re-run of a paginated query must stop at (from the query journal).
    let pinnedEndCursor: String?
    /// The end cursor of this execution's `paginate`, to journal for re-runs.
    var journal: String?
    private var paginated = false

    let write: WriteContext?
    /// Whether this execution may write system tables (`_scheduled_functions`, …): only the
    /// engine's own bookkeeping, never a function's `ctx.db`.
    var writesSystemTables = false
    /// Jobs scheduled by this execution, counted against `SchedulerLimits.jobsPerExecution`.
    var jobsScheduled = 0
    private(set) var changes: [DocumentChange] = []
    private(set) var logWrites: [LogWrite] = []

    init(store: Store, schema: Schema, identity: Identity, limits: TransactionLimits, journal: String?, write: WriteContext?) {
        self.store = store
        self.schema = schema
        self.identity = identity
        self.usage = TransactionUsage(limits: limits)
        self.pinnedEndCursor = journal
        self.write = write
        let catalog = store.catalog
        self.tableNumbers = { catalog.table(named: $0)?.number }
    }

    var catalog: Catalog { store.catalog }

    // MARK: - Reads

    func get(_ id: String) throws -> Document? {
        readSet.record(documentID: id)
        guard let parsed = DocumentID(id) else {
            throw TransactionError("Invalid argument `id` for `db.get`: \"\(id)\" is not a document id")
        }
        // An engine-private table (other clients' remembered results) is not there for functions,
        // even by id.
        if !writesSystemTables, let table = catalog.table(number: parsed.tableNumber), SystemTables.isEnginePrivate(table.name) {
            return nil
        }
        guard let stored = try store.document(number: parsed.documentNumber), stored.id == id,
            case .object(let fields) = stored.value
        else { return nil }
        try usage.scanned(bytes: stored.value.approximateSize)
        return Document(fields: fields)
    }

    /// The table to read or write. App code names system tables only through `ctx.db.system`
    /// (`system`), and writes them only through the engine (`writesSystemTables`).
    func table(named name: String, system: Bool = false) throws(TransactionError) -> TableRecord {
        if SystemTables.isSystem(name), !system, !writesSystemTables {
            throw TransactionError("Table \"\(name)\" is a system table: read it with ctx.db.system.query(\"\(name)\"); functions cannot write it")
        }
        if SystemTables.isEnginePrivate(name), !writesSystemTables {
            throw TransactionError("Table \"\(name)\" is internal to the engine; functions cannot read it")
        }
        guard let table = catalog.table(named: name) else {
            throw TransactionError("Table \"\(name)\" does not exist in the schema")
        }
        return table
    }

    func index(_ name: String, of table: TableRecord) throws(TransactionError) -> IndexRecord {
        guard let index = catalog.index(table: table.number, name: name) else {
            let known = catalog.indexes(of: table.number).map(\.name).sorted().joined(separator: ", ")
            throw TransactionError("Index \(table.name).\(name) not found. Indexes of \(table.name): \(known)")
        }
        guard index.state == .ready else {
            throw TransactionError("Index \(table.name).\(name) is currently backfilling and not available to query yet")
        }
        return index
    }

    func noteFullTableScan() { fullTableScans += 1 }

    /// Scans `interval` of `index` in order, in growing batches, until `visit` returns false or
    /// the range ends. Records in the read set exactly the part of the interval it covered.
    /// Returns the last key visited and whether the range was exhausted.
    @discardableResult
    func scan(
        index: IndexRecord, interval: KeyInterval, descending: Bool, batchHint: Int,
        visit: (IndexKey, Document) throws -> Bool
    ) throws -> (lastKey: IndexKey?, exhausted: Bool) {
        try usage.rangeRead()
        var lower = interval.lower
        var upper = interval.upper
        var batch = max(1, min(batchHint, 1024))
        var lastKey: IndexKey?
        var exhausted = false
        scanning: while true {
            var rows: [(IndexKey, Value)] = []
            rows.reserveCapacity(batch)
            try store.scan(index: index.number, lower: lower, upper: upper, descending: descending, limit: batch) { key, _, bytes in
                rows.append((key, try ValueCodec.decode(bytes)))
            }
            for (key, value) in rows {
                try usage.scanned(bytes: value.approximateSize)
                lastKey = key
                guard case .object(let fields) = value else { continue }
                if try !visit(key, Document(fields: fields)) { break scanning }
            }
            if rows.count < batch {
                exhausted = true
                break
            }
            if descending { upper = lastKey! } else { lower = IndexKey(bytes: lastKey!.bytes + [0]) }
            batch = min(batch * 2, 1024)
        }
        let covered: KeyInterval
        if exhausted || lastKey == nil {
            covered = interval
        } else if descending {
            covered = KeyInterval(lower: lastKey!, upper: interval.upper)
        } else {
            covered = KeyInterval(lower: interval.lower, upper: IndexKey(bytes: lastKey!.bytes + [0]))
        }
        readSet.record(index: index.number, covered)
        return (lastKey, exhausted)
    }

    /// Claims the one `paginate` a query may do (its end cursor is what the journal pins).
    func beginPagination() throws(TransactionError) -> String? {
        guard !paginated else {
            throw TransactionError("This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function.")
        }
        paginated = true
        return pinnedEndCursor
    }

    // MARK: - Writes

    private func writeContext(_ operation: String) throws(TransactionError) -> WriteContext {
        guard let write else { throw TransactionError("`db.\(operation)` can only be called from a mutation") }
        return write
    }

    func insert(_ tableName: String, _ fields: [String: Value]) throws -> String {
        let write = try writeContext("insert")
        let table = try table(named: tableName)
        try validateUserFields(fields, table: tableName)
        let (number, random) = write.allocate()
        let id = DocumentID(tableNumber: table.number, documentNumber: number, random: random).string
        // Built fresh at its final size: growing a copy of `fields` goes through the
        // unspecialized `Dictionary.reserveCapacity`, which cost more than the inserts.
        var document = [String: Value](minimumCapacity: fields.count + 2)
        for (key, value) in fields { document[key] = value }
        document["_id"] = .string(id)
        document["_creationTime"] = .float64(write.ts.milliseconds)
        try store(table: table, number: number, id: id, old: nil, new: document)
        return id
    }

    func patch(_ id: String, _ fields: [String: Value?]) throws {
        _ = try writeContext("patch")
        let (table, number, existing) = try existingDocument(id, operation: "patch")
        var document = existing.fields
        for (key, value) in fields {
            if key == "_id" || key == "_creationTime" {
                guard value == nil || value == existing.fields[key] else {
                    throw TransactionError("Failed to patch document \(id): system field `\(key)` cannot be changed")
                }
                continue
            }
            try FieldName.validateTopLevel(key)
            document[key] = value
        }
        try validateUserFields(document.filter { !$0.key.hasPrefix("_") }, table: table.name)
        try store(table: table, number: number, id: id, old: existing.fields, new: document)
    }

    func replace(_ id: String, _ fields: [String: Value]) throws {
        _ = try writeContext("replace")
        let (table, number, existing) = try existingDocument(id, operation: "replace")
        var document: [String: Value] = [:]
        for (key, value) in fields {
            if key == "_id" || key == "_creationTime" {
                guard value == existing.fields[key] else {
                    throw TransactionError("Failed to replace document \(id): system field `\(key)` cannot be changed")
                }
                continue
            }
            document[key] = value
        }
        try validateUserFields(document, table: table.name)
        document["_id"] = existing.fields["_id"]
        document["_creationTime"] = existing.fields["_creationTime"]
        try store(table: table, number: number, id: id, old: existing.fields, new: document)
    }

    func delete(_ id: String) throws {
        _ = try writeContext("delete")
        let (table, number, existing) = try existingDocument(id, operation: "delete")
        try store(table: table, number: number, id: id, old: existing.fields, new: nil)
    }

    private func existingDocument(_ id: String, operation: String) throws -> (TableRecord, Int64, Document) {
        guard let parsed = DocumentID(id), let table = catalog.table(number: parsed.tableNumber) else {
            throw TransactionError("Invalid argument `id` for `db.\(operation)`: \"\(id)\" is not a document id")
        }
        guard let existing = try get(id) else {
            throw TransactionError("Update on nonexistent document ID \(id)")
        }
        if SystemTables.isSystem(table.name), !writesSystemTables {
            throw TransactionError("Document \(id) is in the system table \"\(table.name)\", which functions cannot write (use ctx.scheduler to cancel jobs)")
        }
        return (table, parsed.documentNumber, existing)
    }

    /// Field names, schema, then size limits — in that order, so the first error is the most specific.
    private func validateUserFields(_ fields: [String: Value], table: String) throws {
        for (key, value) in fields {
            try FieldName.validateTopLevel(key)
            switch value {
            case .object, .array: try checkNestedFieldNames(value, path: ".\(key)")
            default: break
            }
        }
        if let definition = schema.table(named: table) {
            do {
                try definition.documentValidator.validate(.object(fields), tables: tableNumbers)
            } catch {
                throw TransactionError(
                    "Failed to insert or update a document in table \"\(table)\" because it does not match the schema: \(error.message)"
                )
            }
        }
    }

    private func checkNestedFieldNames(_ value: Value, path: String) throws(ValueError) {
        switch value {
        case .object(let o):
            for (k, v) in o {
                try FieldName.validate(k, path: path)
                try checkNestedFieldNames(v, path: "\(path).\(k)")
            }
        case .array(let a):
            for (i, v) in a.enumerated() { try checkNestedFieldNames(v, path: "\(path)[\(i)]") }
        default: break
        }
    }

    private func store(table: TableRecord, number: Int64, id: String, old: [String: Value]?, new: [String: Value]?) throws {
        let write = try writeContext("write")
        var encoded: [UInt8]?
        if let new {
            try usage.limits.document.check(.object(new), table: table.name)
            encoded = ValueCodec.encode(.object(new))
        }
        try usage.wrote(bytes: encoded?.count ?? 0)
        let indexChanges = try store.writeDocument(
            tableNumber: table.number, number: number, id: id, ts: write.ts,
            old: old.map { .object($0) }, new: new.map { .object($0) }, encoded: encoded
        )
        changes.append(DocumentChange(tableNumber: table.number, number: number, id: id, indexChanges: indexChanges))
        logWrites.append(.document(tableNumber: table.number, number: number, id: id, value: encoded))
    }
}

@available(*, unavailable)
extension Transaction: Sendable {}
