@testable import RippleStorage
import RippleLog
import RippleTestSupport
import RippleValues
import Testing

/// A document write keeps every index of its table in step with the document: an insert adds
/// its key, a change of an indexed field moves it, a change elsewhere leaves it, a delete
/// removes it, and a rolled-back transaction undoes index and document together.
@Suite struct IndexMaintenanceTests {
    static let notes: UInt32 = 10
    static let byAuthor: Int64 = 1

    private func store(_ directory: TemporaryDirectory) throws -> Store {
        let store = try Store(database: Database(path: directory.database))
        try store.database.transaction {
            try store.applyCatalog(.createTable(TableRecord(number: Self.notes, name: "notes")))
            try store.applyCatalog(
                .createIndex(IndexRecord(number: Self.byAuthor, tableNumber: Self.notes, name: "by_author", fields: ["author"], state: .ready)))
        }
        return store
    }

    private func note(_ author: String, _ body: String) -> Value {
        ["_id": "note1", "_creationTime": 1_000, "author": .string(author), "body": .string(body)]
    }

    private func key(_ document: Value) -> IndexKey {
        IndexKey.forDocument(document.objectValue!, fields: ["author"])
    }

    @discardableResult
    private func write(_ store: Store, old: Value?, new: Value?, ts: CommitTimestamp) throws -> [IndexChange] {
        try store.database.transaction {
            try store.writeDocument(tableNumber: Self.notes, number: 1, id: "note1", ts: ts, old: old, new: new, encoded: nil)
        }
    }

    /// The documents the index finds for one author, by number.
    private func documents(_ store: Store, author: String) throws -> [Int64] {
        var lower = IndexKey()
        lower.append(.string(author))
        var upper = IndexKey()
        upper.append(.string(author + "\u{0}"))
        var found: [Int64] = []
        try store.scan(index: Self.byAuthor, lower: lower, upper: upper, descending: false, limit: 10) { _, number, _ in found.append(number) }
        return found
    }

    @Test func eachWriteMovesTheDocumentsIndexKeyWithIt() throws {
        let directory = TemporaryDirectory()
        let store = try store(directory)
        let ada = note("ada", "first")
        #expect(try write(store, old: nil, new: ada, ts: 1) == [IndexChange(index: Self.byAuthor, old: nil, new: key(ada))])
        #expect(try store.indexEntryCount(index: Self.byAuthor) == 1)
        #expect(try documents(store, author: "ada") == [1])

        let grace = note("grace", "first")
        #expect(try write(store, old: ada, new: grace, ts: 2) == [IndexChange(index: Self.byAuthor, old: key(ada), new: key(grace))])
        #expect(try store.indexEntryCount(index: Self.byAuthor) == 1)
        #expect(try documents(store, author: "ada") == [])
        #expect(try documents(store, author: "grace") == [1])

        // A field no index covers: the key stays, and the write set says so.
        let edited = note("grace", "edited")
        #expect(try write(store, old: grace, new: edited, ts: 3) == [IndexChange(index: Self.byAuthor, old: key(grace), new: key(grace))])
        #expect(try documents(store, author: "grace") == [1])

        #expect(try write(store, old: edited, new: nil, ts: 4) == [IndexChange(index: Self.byAuthor, old: key(grace), new: nil)])
        #expect(try store.indexEntryCount(index: Self.byAuthor) == 0)
        #expect(try store.document(number: 1) == nil)
    }

    @Test func aRolledBackWriteLeavesTheIndexAsItWas() throws {
        struct Abandoned: Error, Equatable {}
        let directory = TemporaryDirectory()
        let store = try store(directory)
        let ada = note("ada", "first")
        try write(store, old: nil, new: ada, ts: 1)
        #expect(throws: Abandoned()) {
            try store.database.transaction {
                _ = try store.writeDocument(tableNumber: Self.notes, number: 1, id: "note1", ts: 2, old: ada, new: note("grace", "x"), encoded: nil)
                throw Abandoned()
            }
        }
        #expect(try documents(store, author: "ada") == [1])
        #expect(try documents(store, author: "grace") == [])
        #expect(try store.indexEntryCount(index: Self.byAuthor) == 1)
        #expect(try store.document(number: 1)?.value == ada)
    }
}
