import RippleLog
import RippleReactivity
import RippleStorage
import RippleValues

/// Scan direction of a query, by index key.
public enum Order: Sendable {
    case asc
    case desc
}

/// `ctx.db.query("table")`: pick an index (or scan the whole table in creation order).
public struct QueryInitializer {
    let transaction: Transaction
    let tableName: String
    /// Reached through `ctx.db.system`, so system tables may be named.
    var system = false

    /// Queries through a named index with an optional range: `withIndex("by_channel") { $0.eq("channelId", id) }`.
    public func withIndex(_ name: String, _ range: (IndexRange) -> IndexRange = { $0 }) throws -> Query {
        let table = try transaction.table(named: tableName, system: system)
        let index = try transaction.index(name, of: table)
        let interval = try range(IndexRange()).interval(in: index, tableName: table.name)
        return Query(transaction: transaction, tableName: table.name, index: index, interval: interval)
    }

    /// Scans every document of the table in creation order. Allowed, but counted.
    public func fullTableScan() throws -> Query {
        transaction.noteFullTableScan()
        return try withIndex(IndexDefinition.byCreationTime.name)
    }

    public func order(_ order: Order) throws -> Query { try fullTableScan().order(order) }
    public func filter(_ predicate: @escaping (Document) throws -> Bool) throws -> Query { try fullTableScan().filter(predicate) }
    public func take(_ n: Int) throws -> [Document] { try fullTableScan().take(n) }
    public func first() throws -> Document? { try fullTableScan().first() }
    public func unique() throws -> Document? { try fullTableScan().unique() }
    public func collect() throws -> [Document] { try fullTableScan().collect() }
    public func paginate(numItems: Int, cursor: String?) throws -> PaginationResult {
        try fullTableScan().paginate(numItems: numItems, cursor: cursor)
    }
    public func paginate(_ options: Value) throws -> PaginationResult { try fullTableScan().paginate(options) }
}

/// A query over one index range: order, post-filters, then a terminal read
/// (`take`, `first`, `unique`, `collect`, `paginate`). Reads stream from SQLite in batches.
public struct Query {
    let transaction: Transaction
    let tableName: String
    let index: IndexRecord
    let interval: KeyInterval
    var descending = false
    var filters: [(Document) throws -> Bool] = []

    public func order(_ order: Order) -> Query {
        var copy = self
        copy.descending = order == .desc
        return copy
    }

    /// Keeps only documents for which `predicate` is true. Filtered-out documents still count
    /// as read (as in Convex), so prefer an index range where one fits.
    public func filter(_ predicate: @escaping (Document) throws -> Bool) -> Query {
        var copy = self
        copy.filters.append(predicate)
        return copy
    }

    private func passes(_ document: Document) throws -> Bool {
        for filter in filters where try !filter(document) { return false }
        return true
    }

    public func take(_ n: Int) throws -> [Document] {
        guard n > 0 else { return [] }
        var out: [Document] = []
        try transaction.scan(index: index, interval: interval, descending: descending, batchHint: n) { _, document in
            if try passes(document) { out.append(document) }
            return out.count < n
        }
        return out
    }

    public func first() throws -> Document? { try take(1).first }

    /// The single matching document, `nil` if none; an error if there is more than one.
    public func unique() throws -> Document? {
        let found = try take(2)
        if found.count > 1 {
            throw TransactionError(
                "unique() query returned more than one result from table \(tableName): [\(found[0].id), \(found[1].id), ...]"
            )
        }
        return found.first
    }

    public func collect() throws -> [Document] {
        var out: [Document] = []
        try transaction.scan(index: index, interval: interval, descending: descending, batchHint: 128) { _, document in
            if try passes(document) { out.append(document) }
            return true
        }
        return out
    }

    /// Convex's `paginate(paginationOpts)`: `{numItems, cursor, endCursor?, maximumRowsRead?}`,
    /// as a client sent it (see `PaginationOptions` for what is refused).
    public func paginate(_ options: Value) throws -> PaginationResult {
        let options = try PaginationOptions(options, maxPageSize: transaction.usage.limits.maxDocumentsScanned)
        return try paginate(
            numItems: options.numItems, cursor: options.cursor, endCursor: options.endCursor, maximumRowsRead: options.maximumRowsRead)
    }

    /// One page after `cursor` (`nil`: the start). A page whose end was already fixed (an
    /// explicit `endCursor`, or the query journal on a re-run) ends exactly there, so pages of a
    /// live paginated list never overlap or leave gaps.
    public func paginate(numItems: Int, cursor: String?, endCursor: String? = nil, maximumRowsRead: Int? = nil) throws -> PaginationResult {
        let journaled = try transaction.beginPagination()
        var range = interval
        if let cursor {
            switch try PageCursor(cursor, expectedIndex: index.number).position {
            case .end:
                return PaginationResult(page: [], isDone: true, continueCursor: cursor)
            case .after(let key):
                let boundary = IndexKey(bytes: key.bytes + [0])
                range = descending ? KeyInterval(lower: range.lower, upper: min(range.upper, key))
                    : KeyInterval(lower: max(range.lower, boundary), upper: range.upper)
            }
        }
        var pinned = false
        if let end = endCursor ?? journaled {
            pinned = true
            if case .after(let key) = try PageCursor(end, expectedIndex: index.number).position {
                let boundary = IndexKey(bytes: key.bytes + [0])
                range = descending ? KeyInterval(lower: max(range.lower, key), upper: range.upper)
                    : KeyInterval(lower: range.lower, upper: min(range.upper, boundary))
            }
        }
        var page: [Document] = []
        var scanned = 0
        let limit = pinned ? Int.max : max(numItems, 0)
        let rowLimit = maximumRowsRead ?? Int.max
        let hint = pinned ? 128 : max(numItems, 1)
        var result: (lastKey: IndexKey?, exhausted: Bool) = (nil, true)
        if range.lower < range.upper, limit > 0 {
            result = try transaction.scan(index: index, interval: range, descending: descending, batchHint: hint) { _, document in
                scanned += 1
                if try passes(document) { page.append(document) }
                return page.count < limit && scanned < rowLimit
            }
        } else if !pinned && limit == 0 {
            result = (nil, false)
        }
        let continueCursor: PageCursor
        let isDone: Bool
        if pinned {
            // The page keeps its original end; the caller already knows what follows it.
            let end = endCursor ?? journaled!
            continueCursor = try PageCursor(end, expectedIndex: index.number)
            isDone = continueCursor.position == .end
        } else if result.exhausted {
            continueCursor = PageCursor(index: index.number, position: .end)
            isDone = true
        } else if let last = result.lastKey {
            continueCursor = PageCursor(index: index.number, position: .after(last))
            isDone = false
        } else {
            continueCursor = try cursor.map { try PageCursor($0, expectedIndex: index.number) }
                ?? PageCursor(index: index.number, position: .after(IndexKey(bytes: descending ? [0xFF] : [])))
            isDone = false
        }
        transaction.journal = continueCursor.string
        return PaginationResult(page: page, isDone: isDone, continueCursor: continueCursor.string)
    }
}

/// `paginationOpts` checked before any of its numbers becomes an `Int`: they come from clients,
/// and `Int(_:)` traps on NaN, infinities and anything beyond `Int.max`. As in Convex, a page
/// holds 1 to `maxPageSize` items (Convex: the transaction's row limit, 32,000) and
/// `maximumRowsRead` must be positive; a larger row budget than the transaction allows is the
/// transaction's limit.
struct PaginationOptions {
    let numItems: Int
    let cursor: String?
    let endCursor: String?
    let maximumRowsRead: Int?

    init(_ options: Value, maxPageSize: Int) throws(TransactionError) {
        guard case .object(let fields) = options else {
            throw TransactionError("paginate() expects paginationOpts {numItems: number, cursor: string | null}, got \(options)")
        }
        guard case .float64(let numItems)? = fields["numItems"], numItems >= 0 else {
            throw TransactionError("`options.numItems` must be a positive number. Received `\(fields["numItems"] ?? .null)`.")
        }
        guard numItems == numItems.rounded() else {
            throw TransactionError("`options.numItems` must be a whole number. Received `\(Value.float64(numItems))`.")
        }
        guard numItems >= 1 else { throw TransactionError("NoDocumentsForPagination: Must request at least 1 document while paginating") }
        guard numItems <= Double(maxPageSize) else {
            throw TransactionError(
                "PageSizeTooLarge: Requested too many items: \(Value.float64(numItems)) (a page holds at most \(maxPageSize))")
        }
        self.numItems = Int(numItems)
        self.cursor = fields["cursor"]?.stringValue
        self.endCursor = fields["endCursor"]?.stringValue
        switch fields["maximumRowsRead"] {
        case nil, .null?:
            maximumRowsRead = nil
        case .float64(let rows)? where rows >= 1 && rows == rows.rounded():
            maximumRowsRead = Int(min(rows, Double(maxPageSize)))
        case let other?:
            throw TransactionError("InvalidPaginationLimit: `options.maximumRowsRead` must be a whole number greater than 0. Received `\(other)`.")
        }
    }
}
