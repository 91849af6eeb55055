import Foundation
import RippleLog
import RippleStorage
import RippleTestSupport
import RippleValues
import Testing

/// One document write per commit, told apart by number.
func commit(_ ts: CommitTimestamp) -> Commit {
    Commit(ts: ts, writes: [.document(tableNumber: 10, number: Int64(ts.nanoseconds), id: "doc\(ts)", value: [UInt8(ts.nanoseconds % 250), 1, 2])])
}

@Suite struct CommitLogTests {
    /// Rows as the writer makes them: groups of 1, 3 and 2 commits, and a replica-style row.
    func store(_ db: TemporaryDirectory) throws -> Store {
        let store = try Store(database: Database(path: db.database))
        try store.database.transaction {
            for group in [[1], [2, 3, 5], [8, 9]] as [[CommitTimestamp]] {
                var batch = LogBatch()
                for ts in group { batch.append(ts: ts, writes: commit(ts).writes) }
                try store.appendLog(batch)
            }
            try store.appendLog(commit(12))
        }
        return store
    }

    @Test func everyCommitComesBackOnceInOrderFromAnyPosition() throws {
        let db = TemporaryDirectory()
        let store = try store(db)
        let all: [CommitTimestamp] = [1, 2, 3, 5, 8, 9, 12]
        for after: CommitTimestamp in [0, 1, 2, 3, 4, 5, 8, 9, 11, 12, 20] {
            let expected = all.filter { $0 > after }
            #expect(try store.commits(after: after, limit: 100) == expected.map(commit), "after \(after)")
            #expect(try store.commitCount(after: after) == expected.count, "after \(after)")
            for limit in 1...4 {
                #expect(try store.commits(after: after, limit: limit) == expected.prefix(limit).map(commit), "after \(after) limit \(limit)")
            }
        }
    }

    @Test func pruningDropsWholeGroupsOnlyAndNeverACommitStillAfterThePrunedPoint() throws {
        let db = TemporaryDirectory()
        let store = try store(db)
        // Through 3 cuts the group [2, 3, 5]: it stays whole, so nothing after 1 is lost.
        #expect(try store.pruneLog(through: 3, batch: 10) == 1)
        #expect(try store.logPrunedThrough() == 1)
        #expect(try store.commits(after: 1, limit: 100) == [2, 3, 5, 8, 9, 12].map(commit))
        #expect(try store.pruneLog(through: 9, batch: 10) == 2)
        #expect(try store.logPrunedThrough() == 9)
        #expect(try store.commits(after: 9, limit: 100) == [commit(12)])
    }

    @Test func aGroupOfOneIsStoredAsASingleCommitRow() throws {
        let db = TemporaryDirectory()
        let store = try store(db)
        let s = try store.database.statement("SELECT payload FROM commit_log WHERE ts = 1")
        #expect(try s.step())
        #expect(try CommitCodec.decode(s.bytes(0)) == commit(1).writes)
        s.reset()
    }

    @Test func filesWithOneCommitPerRowAreReadAfterUpgrade() throws {
        let db = TemporaryDirectory()
        do {
            let old = try Database(path: db.database)
            try old.execute("CREATE TABLE commit_log(ts INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
            let insert = try old.statement("INSERT INTO commit_log(ts, payload) VALUES (?1, ?2)")
            for ts: CommitTimestamp in [4, 7] {
                insert.bind(1, ts.bitPattern)
                insert.bind(2, CommitCodec.encode(commit(ts).writes))
                try insert.run()
            }
        }
        let store = try Store(database: Database(path: db.database))
        var batch = LogBatch()
        batch.append(ts: 10, writes: commit(10).writes)
        batch.append(ts: 11, writes: commit(11).writes)
        try store.appendLog(batch)
        #expect(try store.commits(after: 0, limit: 10) == [4, 7, 10, 11].map(commit))
        #expect(try store.commitCount(after: 4) == 3)
        // Logged before terms were recorded: term 0, as the applied position.
        #expect(try store.commits(after: 0, limit: 10).map(\.term) == [0, 0, 0, 0])
        #expect(try store.appliedTerm() == 0)
    }

    /// Two writers can log commits at the same timestamp (a clock behind the log issues
    /// last + 1): a log holds a position only if its commit there is of the same term.
    @Test func aLogHoldsACommitOnlyAtTheSameTimestampAndTerm() throws {
        let db = TemporaryDirectory()
        let store = try Store(database: Database(path: db.database))
        var group = LogBatch(term: 1)
        group.append(ts: 5, writes: commit(5).writes)
        group.append(ts: 6, writes: commit(6).writes)
        try store.appendLog(group)
        try store.appendLog(Commit(ts: 7, term: 2, writes: commit(7).writes))
        #expect(try store.commits(after: 0, limit: 10).map(\.term) == [1, 1, 2])
        #expect(try store.holdsCommit(at: 5, term: 1))
        #expect(try store.holdsCommit(at: 7, term: 2))
        #expect(try !store.holdsCommit(at: 7, term: 1))
        #expect(try !store.holdsCommit(at: 6, term: 2))
        #expect(try !store.holdsCommit(at: 8, term: 2))
        _ = try store.pruneLog(through: 6, batch: 10)
        #expect(try !store.holdsCommit(at: 6, term: 1))
        #expect(try store.holdsCommit(at: 7, term: 2))
        // The applied position, as after installing a snapshot: in the state, not in the log.
        try store.setAppliedTimestamp(6, term: 1)
        #expect(try store.holdsCommit(at: 6, term: 1))
        #expect(try !store.holdsCommit(at: 6, term: 2))
    }

    @Test func aRowWithCommitsOutOfOrderIsRejected() throws {
        let db = TemporaryDirectory()
        let store = try Store(database: Database(path: db.database))
        var frames: [UInt8] = []
        for ts: CommitTimestamp in [6, 5] {
            appendVarint(ts.nanoseconds, to: &frames)
            CommitCodec.encode(commit(ts).writes, into: &frames)
        }
        let s = try store.database.statement("INSERT INTO commit_log(ts, payload, commits) VALUES (6, ?1, 2)")
        s.bind(1, frames)
        try s.run()
        #expect(throws: ValueError.self) { try store.commits(after: 0, limit: 10) }
    }
}
