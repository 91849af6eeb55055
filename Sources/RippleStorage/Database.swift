import CSQLite

/// An SQLite failure, carrying what a reader needs: result code, SQLite's message, and the SQL.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        var text = "SQLite error \(code): \(message)"
        if let sql { text += " — while executing `\(sql)`" }
        return text
    }
}

/// One SQLite connection. Not thread-safe: exactly one owner uses it at a time (the committer's
/// thread, or a reader taken from `ReaderPool`).
public final class Database {
    let handle: OpaquePointer
    public let path: String
    private var statements: [String: Statement] = [:]
    /// What `failCommits(while:)` installed, kept alive for SQLite's hook.
    private var commitFault: CommitFault?
    /// What `failStatements(rollingBack:)` installed: asked with each statement's SQL before it runs.
    var statementFault: ((String) -> Bool)?
    /// Set by an owner whose writes must all land in the transaction it opened (the committer,
    /// around a group): once SQLite rolled that transaction back on an error, a write statement
    /// fails instead of running in autocommit, where it would be durable at once and in no
    /// commit log row — even when a mutation catches the first error and writes again.
    public var writesRequireTransaction = false

    /// Opens (creating if needed) the database at `path` in WAL mode.
    public init(path: String, readOnly: Bool = false) throws(DatabaseError) {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw DatabaseError(code: rc, message: message, sql: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_busy_timeout(db, 5000)
        sqlite3_extended_result_codes(db, 1)
        if !readOnly {
            try execute("PRAGMA journal_mode=WAL")
        }
        try execute("PRAGMA synchronous=FULL")
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(DatabaseError) {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw DatabaseError(code: rc, message: message, sql: sql)
        }
    }

    /// A prepared statement, cached by its SQL text for reuse.
    public func statement(_ sql: String) throws(DatabaseError) -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        let statement = try Statement(database: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// A prepared statement owned by the caller, for hot paths that keep it in a stored property
    /// instead of looking it up by its SQL text on every use.
    public func prepare(_ sql: String) throws(DatabaseError) -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// When a transaction takes SQLite's write lock.
    public enum TransactionKind: String, Sendable {
        /// At its first write (a read-only transaction never takes it).
        case deferred = "DEFERRED"
        /// At BEGIN, so a writer waits for the lock there instead of failing half-way through.
        case immediate = "IMMEDIATE"
    }

    /// Runs `body` in a transaction: COMMIT if it returns, ROLLBACK (and rethrow) if it throws.
    public func transaction<T>(_ kind: TransactionKind = .deferred, _ body: () throws -> T) throws -> T {
        try execute("BEGIN \(kind.rawValue)")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Stops COMMIT from checkpointing the WAL when it grows; the owner calls `checkpoint()`
    /// elsewhere (another connection, another thread) so that no commit pays for one.
    public func disableAutomaticCheckpoints() throws(DatabaseError) {
        try execute("PRAGMA wal_autocheckpoint=0")
    }

    /// Copies what the WAL holds into the database file as far as readers allow, without
    /// waiting for them (a PASSIVE checkpoint).
    public func checkpoint() throws(DatabaseError) {
        try execute("PRAGMA wal_checkpoint(PASSIVE)")
    }

    /// A fault for tests: while `failing()` returns true, every COMMIT of a write transaction on
    /// this connection fails (SQLite's commit hook turns it into a rollback, and COMMIT returns
    /// `SQLITE_CONSTRAINT_COMMITHOOK`), as COMMIT would on an I/O error — so tests reach what
    /// the committer does then.
    package func failCommits(while failing: @escaping () -> Bool) {
        let fault = CommitFault(failing: failing)
        commitFault = fault
        sqlite3_commit_hook(
            handle, { context in Unmanaged<CommitFault>.fromOpaque(context!).takeUnretainedValue().failing() ? 1 : 0 },
            Unmanaged.passUnretained(fault).toOpaque())
    }

    /// A fault for tests: a statement for whose SQL `failing` returns true fails with
    /// `SQLITE_FULL` after SQLite rolled the whole transaction back, as SQLite does on a full
    /// disk, an I/O error or no memory — so tests reach what the committer does then.
    package func failStatements(rollingBack failing: @escaping (_ sql: String) -> Bool) {
        statementFault = failing
    }

    /// Whether a transaction is open on this connection. SQLite ends one by itself when an error
    /// (`SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_NOMEM`) rolled it back whole: the statements
    /// that follow then run each in a transaction of their own.
    public var isInTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
    public var changes: Int { Int(sqlite3_changes(handle)) }

    func error(_ rc: Int32, sql: String?) -> DatabaseError {
        DatabaseError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}

@available(*, unavailable)
extension Database: Sendable {}

/// The condition of `Database.failCommits(while:)`, as SQLite's commit hook reaches it.
private final class CommitFault {
    let failing: () -> Bool

    init(failing: @escaping () -> Bool) { self.failing = failing }
}

/// A prepared statement. Bind with 1-based indexes, then `step()` through rows.
public final class Statement {
    let handle: OpaquePointer
    unowned let database: Database
    public let sql: String

    init(database: Database, sql: String) throws(DatabaseError) {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(database.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw database.error(rc, sql: sql) }
        self.handle = stmt
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    public func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    public func bind(_ index: Int32, _ value: String) {
        sqlite3_bind_text(handle, index, value, -1, ripple_sqlite_transient())
    }

    public func bind(_ index: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { bind(index, $0) }
    }

    /// Binds a copy of `bytes`.
    public func bind(_ index: Int32, _ bytes: UnsafeRawBufferPointer) {
        // A zero-length blob must still bind as a blob, not NULL: give SQLite a valid pointer.
        let base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        _ = sqlite3_bind_blob(handle, index, base, Int32(bytes.count), ripple_sqlite_transient())
    }

    public func bindNull(_ index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    /// Advances to the next row; `false` when done.
    @discardableResult
    public func step() throws(DatabaseError) -> Bool {
        if let fault = database.statementFault, fault(sql) {
            sqlite3_exec(database.handle, "ROLLBACK", nil, nil, nil)
            throw DatabaseError(code: SQLITE_FULL, message: "database or disk is full (a test's fault)", sql: sql)
        }
        if database.writesRequireTransaction, !database.isInTransaction, sqlite3_stmt_readonly(handle) == 0 {
            throw DatabaseError(
                code: SQLITE_ABORT | (2 << 8),  // SQLITE_ABORT_ROLLBACK
                message: "the transaction this write belongs to was rolled back by an earlier error", sql: sql)
        }
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(rc, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs a statement that returns no rows.
    public func run() throws(DatabaseError) {
        _ = try step()
        sqlite3_reset(handle)
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    public func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: text)
    }

    public func bytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let base = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Borrows a blob column without copying; valid only inside `body`.
    public func withBytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let base = sqlite3_column_blob(handle, column) else {
            return try body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeRawBufferPointer(start: base, count: count))
    }
}

@available(*, unavailable)
extension Statement: Sendable {}
