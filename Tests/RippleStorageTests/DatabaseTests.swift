import RippleStorage
import RippleTestSupport
import Testing

/// The SQLite wrapper's two promises that everything above it leans on: a transaction whose
/// body throws leaves nothing behind and rethrows the body's own error, and a cached statement
/// comes back reset, with no row pending and no value bound from its last use.
@Suite struct DatabaseTests {
    struct Refusal: Error, Equatable {
        let reason: String
    }

    private func notes(_ directory: TemporaryDirectory) throws -> Database {
        let database = try Database(path: directory.database)
        try database.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        return database
    }

    private func bodies(_ database: Database) throws -> [String] {
        let s = try database.statement("SELECT body FROM notes ORDER BY id")
        var bodies: [String] = []
        while try s.step() { bodies.append(s.string(0)) }
        return bodies
    }

    private func insert(_ database: Database, id: Int64, _ body: String) throws {
        let s = try database.statement("INSERT INTO notes(id, body) VALUES (?1, ?2)")
        s.bind(1, id)
        s.bind(2, body)
        try s.run()
    }

    @Test func aTransactionWhoseBodyThrowsRollsBackAndRethrowsThatError() throws {
        let directory = TemporaryDirectory()
        let database = try notes(directory)
        try insert(database, id: 1, "kept")
        #expect(throws: Refusal(reason: "changed my mind")) {
            try database.transaction {
                try insert(database, id: 2, "rolled back")
                try insert(database, id: 3, "rolled back too")
                throw Refusal(reason: "changed my mind")
            }
        }
        #expect(try bodies(database) == ["kept"])
        // No transaction was left open: the next one begins and commits.
        try database.transaction { try insert(database, id: 2, "after") }
        #expect(try bodies(database) == ["kept", "after"])
    }

    @Test func aFailedStatementInsideATransactionUndoesTheEarlierWritesAndNamesItsSQL() throws {
        let directory = TemporaryDirectory()
        let database = try notes(directory)
        try insert(database, id: 1, "first")
        do {
            try database.transaction {
                try insert(database, id: 2, "second")
                try insert(database, id: 1, "a duplicate key")
            }
            Issue.record("the duplicate key was accepted")
        } catch let error as DatabaseError {
            #expect(error.code == 1555)  // SQLITE_CONSTRAINT_PRIMARYKEY
            #expect(error.message == "UNIQUE constraint failed: notes.id")
            #expect(error.sql == "INSERT INTO notes(id, body) VALUES (?1, ?2)")
        }
        #expect(try bodies(database) == ["first"])
    }

    @Test func aCachedStatementIsTheSameOneResetWithItsBindingsCleared() throws {
        let directory = TemporaryDirectory()
        let database = try notes(directory)
        let echo = try database.statement("SELECT ?1")
        echo.bind(1, 7)
        #expect(try echo.step())
        #expect(echo.int64(0) == 7)
        // Taken again mid-row: the same prepared statement, back at its start, nothing bound.
        let again = try database.statement("SELECT ?1")
        #expect(again === echo)
        #expect(try again.step())
        #expect(again.isNull(0))
        #expect(try again.step() == false)
        // A different text is a different statement.
        #expect(try database.statement("SELECT ?1 + 0") !== echo)
    }

    @Test func aStatementThatDoesNotPrepareIsAnErrorCarryingItsSQL() throws {
        let directory = TemporaryDirectory()
        let database = try notes(directory)
        do {
            _ = try database.statement("SELECT title FROM drafts")
            Issue.record("a statement on a missing table prepared")
        } catch {
            #expect(error.code == 1)  // SQLITE_ERROR
            #expect(error.message == "no such table: drafts")
            #expect(error.sql == "SELECT title FROM drafts")
        }
        // A failed preparation leaves nothing in the cache: once the table exists, it prepares.
        try database.execute("CREATE TABLE drafts(title TEXT)")
        #expect(try database.statement("SELECT title FROM drafts").step() == false)
    }
}
