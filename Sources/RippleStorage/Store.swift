import RippleLog
import RippleValues

/// A document row as stored: the latest version of one document.
public struct StoredDocument: Sendable {
    public let number: Int64
    public let tableNumber: UInt32
    public let id: String
    public let ts: CommitTimestamp
    public let value: Value
}

/// Ripple's tables inside one SQLite file, and every read and write of them.
///
/// - `documents(number, table_number, id, ts, value)` — latest version of each document;
///   `number` is the document number its id encodes.
/// - `index_entries(index_number, key, document)` — one row per document per index; `key` is an
///   `IndexKey`, so a `withIndex` range is one B-tree range scan.
/// - `commit_log(ts, payload, commits, term)` — the writes of each group commit (`LogBatch`),
///   shipped to replicas commit by commit, and the term of the writer that sequenced them.
/// - `tables_catalog`, `indexes_catalog` — the catalog; `meta` — the applied timestamp etc.
/// The applied timestamp (and that commit's term) is written in the same transaction as the
/// commit it belongs to, so a read transaction that reads it learns exactly which commit its
/// snapshot is.
public final class Store {
    public let database: Database
    public private(set) var catalog = Catalog()
    private let statements: WriteStatements

    public init(database: Database) throws(DatabaseError) {
        self.database = database
        try Self.migrate(database)
        statements = try WriteStatements(database)
        catalog = try loadCatalog()
    }

    /// The statements of every document write, prepared once: a write runs several of them,
    /// and looking each up by its SQL text cost more than running it.
    private struct WriteStatements {
        let selectDocument: Statement
        let insertDocument: Statement
        let replaceDocument: Statement
        let deleteDocument: Statement
        let insertIndexEntry: Statement
        let deleteIndexEntry: Statement
        let insertLog: Statement
        let setMeta: Statement

        init(_ database: Database) throws(DatabaseError) {
            selectDocument = try database.prepare("SELECT table_number, id, ts, value FROM documents WHERE number = ?1")
            insertDocument = try database.prepare("INSERT INTO documents(number, table_number, id, ts, value) VALUES (?1, ?2, ?3, ?4, ?5)")
            replaceDocument = try database.prepare(
                "INSERT OR REPLACE INTO documents(number, table_number, id, ts, value) VALUES (?1, ?2, ?3, ?4, ?5)"
            )
            deleteDocument = try database.prepare("DELETE FROM documents WHERE number = ?1")
            insertIndexEntry = try database.prepare("INSERT OR REPLACE INTO index_entries(index_number, key, document) VALUES (?1, ?2, ?3)")
            deleteIndexEntry = try database.prepare("DELETE FROM index_entries WHERE index_number = ?1 AND key = ?2")
            insertLog = try database.prepare("INSERT INTO commit_log(ts, payload, commits, term) VALUES (?1, ?2, ?3, ?4)")
            setMeta = try database.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)")
        }
    }

    static func migrate(_ database: Database) throws(DatabaseError) {
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS documents(
                number INTEGER PRIMARY KEY,
                table_number INTEGER NOT NULL,
                id TEXT NOT NULL,
                ts INTEGER NOT NULL,
                value BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS index_entries(
                index_number INTEGER NOT NULL,
                key BLOB NOT NULL,
                document INTEGER NOT NULL,
                PRIMARY KEY(index_number, key)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS commit_log(
                ts INTEGER PRIMARY KEY, payload BLOB NOT NULL, commits INTEGER NOT NULL DEFAULT 1, term INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS tables_catalog(number INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS indexes_catalog(
                number INTEGER PRIMARY KEY,
                table_number INTEGER NOT NULL,
                name TEXT NOT NULL,
                fields TEXT NOT NULL,
                state INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """
        )
        // Files from before log rows held whole groups: every row is one commit.
        try addLogColumn("commits INTEGER NOT NULL DEFAULT 1", to: database)
        // Files from before commits recorded their term: every commit is of term 0, on every
        // node that holds it, so old commits still match each other.
        try addLogColumn("term INTEGER NOT NULL DEFAULT 0", to: database)
    }

    /// Adds a column (`name type…`) to `commit_log` in a file created before it existed.
    private static func addLogColumn(_ definition: String, to database: Database) throws(DatabaseError) {
        let name = String(definition.prefix { $0 != " " })
        let columns = try database.statement("SELECT COUNT(*) FROM pragma_table_info('commit_log') WHERE name = ?1")
        columns.bind(1, name)
        defer { columns.reset() }
        if try columns.step(), columns.int64(0) == 0 {
            try database.execute("ALTER TABLE commit_log ADD COLUMN \(definition)")
        }
    }

    // MARK: - Catalog

    func loadCatalog() throws(DatabaseError) -> Catalog {
        var catalog = Catalog()
        let tables = try database.statement("SELECT number, name FROM tables_catalog")
        while try tables.step() {
            catalog.apply(.createTable(TableRecord(number: UInt32(tables.int64(0)), name: tables.string(1))))
        }
        let indexes = try database.statement("SELECT number, table_number, name, fields, state FROM indexes_catalog")
        while try indexes.step() {
            let fields = indexes.string(3).split(separator: "\u{1F}", omittingEmptySubsequences: true).map(String.init)
            let record = IndexRecord(
                number: indexes.int64(0),
                tableNumber: UInt32(indexes.int64(1)),
                name: indexes.string(2),
                fields: fields,
                state: IndexRecord.State(rawValue: UInt8(indexes.int64(4))) ?? .backfilling
            )
            catalog.apply(.createIndex(record))
        }
        return catalog
    }

    /// Applies a catalog write to SQLite and to the in-memory catalog. Creating an index on a
    /// table that has documents leaves it `backfilling`; `backfill` fills it.
    public func applyCatalog(_ write: LogWrite) throws(DatabaseError) {
        switch write {
        case .document: return
        case .createTable(let table):
            let s = try database.statement("INSERT OR REPLACE INTO tables_catalog(number, name) VALUES (?1, ?2)")
            s.bind(1, Int64(table.number))
            s.bind(2, table.name)
            try s.run()
        case .createIndex(let index):
            let s = try database.statement(
                "INSERT OR REPLACE INTO indexes_catalog(number, table_number, name, fields, state) VALUES (?1, ?2, ?3, ?4, ?5)"
            )
            s.bind(1, index.number)
            s.bind(2, Int64(index.tableNumber))
            s.bind(3, index.name)
            s.bind(4, index.fields.joined(separator: "\u{1F}"))
            s.bind(5, Int64(index.state.rawValue))
            try s.run()
        case .setIndexState(let number, let state):
            let s = try database.statement("UPDATE indexes_catalog SET state = ?2 WHERE number = ?1")
            s.bind(1, number)
            s.bind(2, Int64(state.rawValue))
            try s.run()
        case .dropIndex(let number):
            let s = try database.statement("DELETE FROM indexes_catalog WHERE number = ?1")
            s.bind(1, number)
            try s.run()
            let entries = try database.statement("DELETE FROM index_entries WHERE index_number = ?1")
            entries.bind(1, number)
            try entries.run()
        }
        catalog.apply(write)
        try setMeta(MetaKey.catalogVersion, (try meta(MetaKey.catalogVersion) ?? 0) + 1)
        loadedCatalogVersion = try meta(MetaKey.catalogVersion) ?? 0
    }

    /// The catalog version this store's in-memory catalog was loaded at.
    private var loadedCatalogVersion: Int64 = -1

    /// Reloads the catalog if another connection changed it; call inside a read transaction, so
    /// the catalog matches the snapshot being read (replicas change it as they apply the log).
    public func refreshCatalogIfChanged() throws(DatabaseError) {
        let version = try meta(MetaKey.catalogVersion) ?? 0
        if version != loadedCatalogVersion {
            catalog = try loadCatalog()
            loadedCatalogVersion = version
        }
    }

    /// Re-reads the catalog from SQLite, after a rolled-back transaction changed it in memory.
    public func reloadCatalog() throws(DatabaseError) {
        catalog = try loadCatalog()
    }

    // MARK: - Documents

    public func document(number: Int64) throws -> StoredDocument? {
        let s = statements.selectDocument
        s.bind(1, number)
        guard try s.step() else {
            s.reset()
            return nil
        }
        defer { s.reset() }
        let value = try s.withBytes(3) { buf in try ValueCodec.decode(buf) }
        return StoredDocument(number: number, tableNumber: UInt32(s.int64(0)), id: s.string(1), ts: CommitTimestamp(bitPattern: s.int64(2)), value: value)
    }

    /// Writes (or deletes, when `new` is nil) one document and maintains every index of its
    /// table. `old` is the current stored value (the caller has usually just read it).
    /// Returns how the document moved in each index, for the commit's write set.
    public func writeDocument(
        tableNumber: UInt32, number: Int64, id: String, ts: CommitTimestamp, old: Value?, new: Value?, encoded: [UInt8]?
    ) throws(DatabaseError) -> [IndexChange] {
        if let new {
            // A new document cannot collide with a row: a plain INSERT skips REPLACE's conflict handling.
            let s = old == nil ? statements.insertDocument : statements.replaceDocument
            s.bind(1, number)
            s.bind(2, Int64(tableNumber))
            s.bind(3, id)
            s.bind(4, ts.bitPattern)
            s.bind(5, encoded ?? ValueCodec.encode(new))
            try s.run()
        } else {
            let s = statements.deleteDocument
            s.bind(1, number)
            try s.run()
        }
        var changes: [IndexChange] = []
        let indexes = catalog.indexes(of: tableNumber)
        changes.reserveCapacity(indexes.count)
        let oldKeys = old?.objectValue.map(DocumentIndexKeys.init)
        let newKeys = new?.objectValue.map(DocumentIndexKeys.init)
        for index in indexes {
            let oldKey = oldKeys?.key(fields: index.fields)
            let newKey = newKeys?.key(fields: index.fields)
            if oldKey != newKey {
                if let oldKey { try deleteIndexEntry(index: index.number, key: oldKey) }
                if let newKey { try insertIndexEntry(index: index.number, key: newKey, document: number) }
            }
            changes.append(IndexChange(index: index.number, old: oldKey, new: newKey))
        }
        return changes
    }

    func insertIndexEntry(index: Int64, key: IndexKey, document: Int64) throws(DatabaseError) {
        let s = statements.insertIndexEntry
        s.bind(1, index)
        s.bind(2, key.bytes)
        s.bind(3, document)
        try s.run()
    }

    func deleteIndexEntry(index: Int64, key: IndexKey) throws(DatabaseError) {
        let s = statements.deleteIndexEntry
        s.bind(1, index)
        s.bind(2, key.bytes)
        try s.run()
    }

    /// Fills a `backfilling` index from the documents of its table, `batch` at a time, after
    /// `afterDocument`. Returns the last document number done, or nil when the table is done.
    public func backfill(index: IndexRecord, afterDocument: Int64, batch: Int) throws -> Int64? {
        let s = try database.statement(
            "SELECT number, value FROM documents WHERE table_number = ?1 AND number > ?2 ORDER BY number LIMIT ?3"
        )
        s.bind(1, Int64(index.tableNumber))
        s.bind(2, afterDocument)
        s.bind(3, Int64(batch))
        var rows: [(Int64, Value)] = []
        while try s.step() {
            rows.append((s.int64(0), try s.withBytes(1) { buf in try ValueCodec.decode(buf) }))
        }
        for (number, value) in rows {
            if let object = value.objectValue {
                try insertIndexEntry(index: index.number, key: IndexKey.forDocument(object, fields: index.fields), document: number)
            }
        }
        return rows.count < batch ? nil : rows.last?.0
    }

    // MARK: - Index scans

    /// Streams index entries in `[lower, upper)` in key order (or reverse), at most `limit`,
    /// handing each key and the document's stored bytes to `row`.
    public func scan(
        index: Int64, lower: IndexKey, upper: IndexKey, descending: Bool, limit: Int,
        row: (IndexKey, Int64, UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let sql =
            descending
            ? "SELECT e.key, e.document, d.value FROM index_entries e JOIN documents d ON d.number = e.document WHERE e.index_number = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key DESC LIMIT ?4"
            : "SELECT e.key, e.document, d.value FROM index_entries e JOIN documents d ON d.number = e.document WHERE e.index_number = ?1 AND e.key >= ?2 AND e.key < ?3 ORDER BY e.key ASC LIMIT ?4"
        let s = try database.statement(sql)
        s.bind(1, index)
        s.bind(2, lower.bytes)
        s.bind(3, upper.bytes)
        s.bind(4, Int64(limit))
        defer { s.reset() }
        while try s.step() {
            let key = IndexKey(bytes: s.bytes(0))
            try s.withBytes(2) { buf in try row(key, s.int64(1), buf) }
        }
    }

    // MARK: - Applying shipped commits

    /// Applies a commit produced elsewhere (a replica applying the writer's log), maintaining
    /// indexes and recording the applied timestamp. The caller wraps it in a transaction, so the
    /// writes and the position land together or not at all.
    public func apply(_ commit: Commit) throws -> [DocumentChange] {
        var changes: [DocumentChange] = []
        for write in commit.writes {
            switch write {
            case .document(let table, let number, let id, let bytes):
                let old = try document(number: number)?.value
                let new = try bytes.map { try ValueCodec.decode($0) }
                let indexChanges = try writeDocument(
                    tableNumber: table, number: number, id: id, ts: commit.ts, old: old, new: new, encoded: bytes
                )
                changes.append(DocumentChange(tableNumber: table, number: number, id: id, indexChanges: indexChanges))
            case .createIndex(let index):
                try applyCatalog(write)
                var after: Int64? = 0
                while let position = after { after = try backfill(index: index, afterDocument: position, batch: 1000) }
            default:
                try applyCatalog(write)
            }
        }
        try appendLog(commit)
        try setAppliedTimestamp(commit.ts, term: commit.term)
        return changes
    }

    // MARK: - Transactions

    /// Runs `body` in one read transaction, so every read sees a single commit's state, with the
    /// catalog brought up to date inside it; `body` gets the applied timestamp the snapshot
    /// belongs to.
    public func readSnapshot<T>(_ body: (_ ts: CommitTimestamp) throws -> T) throws -> T {
        try database.transaction {
            let ts = try appliedTimestamp()
            try refreshCatalogIfChanged()
            return try body(ts)
        }
    }

    /// Runs `body` in one write transaction: committed if it returns; if it throws, rolled back
    /// and the in-memory catalog reloaded, since catalog writes `body` applied are gone with it.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        do {
            return try database.transaction(.immediate, body)
        } catch {
            try? reloadCatalog()
            throw error
        }
    }

    // MARK: - Commit log and metadata

    /// The newest timestamp in the commit log (0 when it is empty).
    public func maxLoggedTimestamp() throws(DatabaseError) -> CommitTimestamp {
        let s = try database.statement("SELECT COALESCE(MAX(ts), 0) FROM commit_log")
        defer { s.reset() }
        return try s.step() ? CommitTimestamp(bitPattern: s.int64(0)) : .zero
    }

    public func appendLog(_ commit: Commit) throws(DatabaseError) {
        try appendLog(ts: commit.ts, term: commit.term, payload: CommitCodec.encode(commit.writes))
    }

    /// Appends one commit's `CommitCodec` bytes as a row of its own.
    public func appendLog(ts: CommitTimestamp, term: UInt64, payload: [UInt8]) throws(DatabaseError) {
        let s = statements.insertLog
        s.bind(1, ts.bitPattern)
        s.bind(2, payload)
        s.bind(3, Int64(1))
        s.bind(4, Int64(bitPattern: term))
        try s.run()
    }

    /// Appends a group's commits as one row.
    public func appendLog(_ batch: LogBatch) throws(DatabaseError) {
        guard !batch.isEmpty else { return }
        let s = statements.insertLog
        s.bind(1, batch.lastTimestamp.bitPattern)
        batch.withPayload { s.bind(2, $0) }
        s.bind(3, Int64(batch.count))
        s.bind(4, Int64(bitPattern: batch.term))
        try s.run()
    }

    /// Commits after `ts`, oldest first, at most `limit`.
    public func commits(after ts: CommitTimestamp, limit: Int) throws -> [Commit] {
        let s = try database.statement("SELECT ts, commits, payload, term FROM commit_log WHERE ts > ?1 ORDER BY ts")
        s.bind(1, ts.bitPattern)
        defer { s.reset() }
        var out: [Commit] = []
        while out.count < limit, try s.step() {
            let row = try s.withBytes(2) { buf in
                try LogBatch.decode(ts: CommitTimestamp(bitPattern: s.int64(0)), commits: Int(s.int64(1)), term: UInt64(bitPattern: s.int64(3)), payload: buf)
            }
            for commit in row where commit.ts > ts && out.count < limit { out.append(commit) }
        }
        return out
    }

    /// Whether the log holds the commit at `ts` sequenced in `term` — the same commit, not just
    /// one at the same timestamp (`Commit`: commits are identified by ts and term). False when
    /// the log lacks `ts`: never there, or pruned. The applied position counts as held even
    /// when the log lacks it: a node promoted right after installing a snapshot has that commit
    /// in its state, not its log. Call inside a read transaction, so a concurrent prune cannot
    /// pass for a missing commit.
    public func holdsCommit(at ts: CommitTimestamp, term: UInt64) throws -> Bool {
        if ts == (try appliedTimestamp()) { return term == (try appliedTerm()) }
        guard ts > (try logPrunedThrough()), let commit = try commits(after: ts.subtracting(.nanoseconds(1)), limit: 1).first else { return false }
        return commit.ts == ts && commit.term == term
    }

    /// Calls `body` with every document in document-number order: its number, table, id and
    /// stored value (`ValueCodec` bytes, valid only during the call).
    public func forEachDocument(
        _ body: (_ number: Int64, _ tableNumber: UInt32, _ id: String, _ value: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let s = try database.statement("SELECT number, table_number, id, value FROM documents ORDER BY number")
        defer { s.reset() }
        while try s.step() {
            try s.withBytes(3) { try body(s.int64(0), UInt32(truncatingIfNeeded: s.int64(1)), s.string(2), $0) }
        }
    }

    /// Whether any document belongs to the table numbered `tableNumber`.
    public func tableHasDocuments(_ tableNumber: UInt32) throws(DatabaseError) -> Bool {
        let s = try database.statement("SELECT 1 FROM documents WHERE table_number = ?1 LIMIT 1")
        s.bind(1, Int64(tableNumber))
        defer { s.reset() }
        return try s.step()
    }

    /// How many entries an index holds; for a table's creation-time index, its document count.
    /// A range count on the primary key: no document is read.
    public func indexEntryCount(index: Int64) throws(DatabaseError) -> Int {
        let s = try database.statement("SELECT COUNT(*) FROM index_entries WHERE index_number = ?1")
        s.bind(1, index)
        defer { s.reset() }
        return try s.step() ? Int(s.int64(0)) : 0
    }

    /// How many commits the log holds after `ts`.
    public func commitCount(after ts: CommitTimestamp) throws -> Int {
        let s = try database.statement("SELECT COALESCE(SUM(commits), 0) FROM commit_log WHERE ts > ?1")
        s.bind(1, ts.bitPattern)
        let total = try s.step() ? Int(s.int64(0)) : 0
        s.reset()
        // The first row after `ts` may hold commits at or before it.
        let first = try database.statement("SELECT ts, commits, payload FROM commit_log WHERE ts > ?1 ORDER BY ts LIMIT 1")
        first.bind(1, ts.bitPattern)
        defer { first.reset() }
        guard try first.step(), first.int64(1) > 1 else { return total }
        let row = try first.withBytes(2) { buf in
            try LogBatch.decode(ts: CommitTimestamp(bitPattern: first.int64(0)), commits: Int(first.int64(1)), term: 0, payload: buf)
        }
        return total - row.count(where: { $0.ts <= ts })
    }

    public func meta(_ key: String) throws(DatabaseError) -> Int64? {
        let s = try database.statement("SELECT value FROM meta WHERE key = ?1")
        s.bind(1, key)
        guard try s.step() else { return nil }
        defer { s.reset() }
        return s.int64(0)
    }

    public func setMeta(_ key: String, _ value: Int64) throws(DatabaseError) {
        let s = statements.setMeta
        s.bind(1, key)
        s.bind(2, value)
        try s.run()
    }

    /// The timestamp of the last commit applied to this database (0 when empty).
    public func appliedTimestamp() throws(DatabaseError) -> CommitTimestamp {
        CommitTimestamp(bitPattern: try meta(MetaKey.appliedTimestamp) ?? 0)
    }

    /// The term of the commit at `appliedTimestamp()` (0 without failover, or for a file from
    /// before terms were recorded): with it, a replica's hello names its position exactly.
    public func appliedTerm() throws(DatabaseError) -> UInt64 {
        UInt64(bitPattern: try meta(MetaKey.appliedTerm) ?? 0)
    }

    /// Records the newest commit applied: its timestamp and the term it was sequenced in.
    public func setAppliedTimestamp(_ ts: CommitTimestamp, term: UInt64) throws(DatabaseError) {
        try setMeta(MetaKey.appliedTimestamp, ts.bitPattern)
        try setMeta(MetaKey.appliedTerm, Int64(bitPattern: term))
    }

    /// The highest document number in use, so new documents continue after it.
    public func maxDocumentNumber() throws(DatabaseError) -> Int64 {
        let s = try database.statement("SELECT COALESCE(MAX(number), 0) FROM documents")
        guard try s.step() else { return 0 }
        defer { s.reset() }
        return max(s.int64(0), try meta(MetaKey.maxDocumentNumber) ?? 0)
    }
}

@available(*, unavailable)
extension Store: Sendable {}

/// Keys of the `meta` table.
public enum MetaKey {
    public static let appliedTimestamp = "applied_ts"
    /// The term of the commit at `applied_ts` (`Commit.term`).
    public static let appliedTerm = "applied_term"
    /// Document numbers are never reused, even after the newest document is deleted.
    public static let maxDocumentNumber = "max_document_number"
    /// Bumped by every catalog change, so readers know to reload theirs.
    public static let catalogVersion = "catalog_version"
}
