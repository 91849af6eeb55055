import Testing

@testable import RippleLeadership

/// How a writer tells what became of a `/sync` write whose answer was lost, from a read-back.
@Suite struct SyncWriteTests {
    let record = SyncRecord(leader: "a", term: 3, required: 1, members: ["b"])

    func found(_ record: SyncRecord, at revision: Int64) -> EtcdClient.KeyValue {
        EtcdClient.KeyValue(key: "/ripple/test/sync", value: record.encoded, createRevision: 1, modRevision: revision, lease: 0)
    }

    @Test func theRecordInSyncMeansItWasRecorded() {
        #expect(SyncWrite(written: record, over: 7, found: found(record, at: 9)) == .recorded(revision: 9))
    }

    @Test func syncStillAtTheComparedRevisionMeansNothingLanded() {
        let previous = SyncRecord(leader: "a", term: 3, required: 1, members: ["c"])
        #expect(SyncWrite(written: record, over: 7, found: found(previous, at: 7)) == .notLanded)
        #expect(SyncWrite(written: record, over: 0, found: nil) == .notLanded)
    }

    @Test func anotherRecordWrittenSinceMeansTheWriteIsRefused() {
        let newer = SyncRecord(leader: "d", term: 4, required: 1, members: ["b"])
        #expect(SyncWrite(written: record, over: 7, found: found(newer, at: 12)) == .refused)
        #expect(SyncWrite(written: record, over: 7, found: nil) == .refused)
    }
}
