import RippleLog
import RippleStorage
import RippleTestSupport
import Testing

@Suite struct CommitTimestampTests {
    /// 2023-11-14T22:13:20.123456789Z.
    let sample = CommitTimestamp(nanoseconds: 1_700_000_000_123_456_789)

    @Test func printsAndParsesTheNanosecondDigits() {
        #expect(sample.description == "1700000000123456789")
        #expect("\(sample)" == "1700000000123456789")
        #expect(String(sample) == "1700000000123456789")
        #expect(CommitTimestamp("1700000000123456789") == sample)
        #expect(CommitTimestamp("-1") == nil)
        #expect(CommitTimestamp("17e17") == nil)
        #expect(CommitTimestamp.zero.description == "0")
    }

    @Test func millisecondsAreConvexCreationTime() {
        #expect(CommitTimestamp(nanoseconds: 1_700_000_000_123_000_000).milliseconds == 1_700_000_000_123)
        #expect(CommitTimestamp(nanoseconds: 2_500_000).milliseconds == 2.5)
        #expect(CommitTimestamp.zero.milliseconds == 0)
    }

    @Test func nextIsTheSmallestLaterTimestamp() {
        #expect(sample.next == CommitTimestamp(nanoseconds: 1_700_000_000_123_456_790))
        #expect(sample < sample.next)
        #expect(CommitTimestamp.zero.next == 1)
    }

    @Test func storedFormIsTheSignedBitPattern() {
        #expect(sample.bitPattern == 1_700_000_000_123_456_789)
        #expect(CommitTimestamp(bitPattern: sample.bitPattern) == sample)
        #expect(CommitTimestamp(nanoseconds: .max).bitPattern == -1)
        #expect(CommitTimestamp(bitPattern: -1) == CommitTimestamp(nanoseconds: .max))
    }

    @Test func durationBetweenTwoIsNeverNegative() {
        let later = CommitTimestamp(nanoseconds: sample.nanoseconds + 2_000_000_500)
        #expect(later.duration(since: sample) == .seconds(2) + .nanoseconds(500))
        #expect(sample.duration(since: later) == .zero)
        #expect(sample.duration(since: sample) == .zero)
        #expect(CommitTimestamp(nanoseconds: .max).duration(since: .zero) == .nanoseconds(Int64.max) * 2 + .nanoseconds(1))
    }

    @Test func subtractingStopsAtTheEpoch() {
        #expect(sample.subtracting(.seconds(2) + .nanoseconds(500)) == CommitTimestamp(nanoseconds: 1_700_000_000_123_456_789 - 2_000_000_500))
        #expect(sample.subtracting(.zero) == sample)
        #expect(CommitTimestamp(nanoseconds: 5).subtracting(.nanoseconds(5)) == .zero)
        #expect(CommitTimestamp(nanoseconds: 5).subtracting(.seconds(1)) == .zero)
        #expect(sample.subtracting(.seconds(Int64.max)) == .zero)
        #expect(sample.subtracting(.seconds(-1)) == sample)
    }

    /// The type changes no byte: a commit log row and a snapshot read back as the same numbers.
    @Test func storesTheSameIntegerAsBefore() throws {
        let db = TemporaryDirectory()
        let store = try Store(database: Database(path: db.database))
        try store.database.transaction {
            try store.appendLog(ts: sample, term: 0, payload: CommitCodec.encode([]))
            try store.setAppliedTimestamp(sample, term: 0)
        }
        #expect(try store.maxLoggedTimestamp() == sample)
        #expect(try store.appliedTimestamp() == sample)
        let raw = try store.database.statement("SELECT ts FROM commit_log")
        defer { raw.reset() }
        #expect(try raw.step())
        #expect(raw.int64(0) == 1_700_000_000_123_456_789)
    }
}
