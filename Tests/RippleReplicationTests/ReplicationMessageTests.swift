import NIOCore
import RippleLog
import RippleStorage
import Testing

@testable import RippleReplication

@Suite struct ReplicationMessageTests {
    static let everyKind: [ReplicationMessage] = [
        .hello(clusterID: "prod-ü", nodeID: "replica-1", appliedTimestamp: 1_700_000_000_000_000_000, nonce: Array(32..<64), term: 5, appliedTerm: 4),
        .challenge(nonce: Array(0..<32)),
        .proof(hmac: Array(repeating: 0x5A, count: 32)),
        .accepted(latestTimestamp: CommitTimestamp(nanoseconds: .max), proof: Array(repeating: 0x33, count: 32)),
        .refused(reason: HandshakeRefusal.authenticationFailed.wireText),
        .commits(previousTimestamp: 0, commits: [makeCommit(ts: 1)]),
        .commits(
            previousTimestamp: 100,
            commits: [
                Commit(
                    ts: 101,
                    term: 3,
                    writes: [
                        .createTable(TableRecord(number: 3, name: "messages")),
                        .createIndex(
                            IndexRecord(number: 9, tableNumber: 3, name: "by_channel", fields: ["channelId", "timestamp"], state: .backfilling)),
                        .document(tableNumber: 3, number: -4, id: "k3abc", value: [1, 2, 3]),
                        .document(tableNumber: 3, number: 5, id: "k3def", value: nil),
                        .setIndexState(number: 9, state: .ready),
                        .dropIndex(number: 2),
                    ]
                ),
                Commit(ts: 205, writes: []),
            ]
        ),
        .heartbeat(latestTimestamp: 0),
        .ack(appliedTimestamp: 12_345),
        .snapshotBegin(ts: 77, totalBytes: 1 << 40),
        .snapshotChunk(offset: 1 << 33, bytes: Array(repeating: 7, count: 1_000)),
        .snapshotEnd(sha256: Array(repeating: 0xEE, count: 32)),
        .forward(requestID: 1, payload: []),
        .forwardResult(requestID: .max, payload: Array("{\"ok\":true}".utf8)),
    ]

    @Test func everyKindIsCovered() {
        #expect(Set(Self.everyKind.map(\.kind)) == Set(LogFrame.Kind.allCases))
    }

    @Test(arguments: ReplicationMessageTests.everyKind)
    func roundTripsThroughItsFrame(_ message: ReplicationMessage) throws {
        let frame = message.frame()
        #expect(frame.kind == message.kind)
        #expect(try ReplicationMessage(frame: frame) == message)
    }

    @Test func roundTripsThroughThePipeline() throws {
        #expect(try decodeMessages([try encodedBytes(Self.everyKind)[...]]) == Self.everyKind)
    }

    @Test(arguments: ReplicationMessageTests.everyKind)
    func truncatedPayloadIsMalformed(_ message: ReplicationMessage) throws {
        let payload = message.frame().payload
        guard payload.readableBytes > 0 else { return }
        for length in 0..<payload.readableBytes {
            let frame = LogFrame(kind: message.kind, payload: payload.getSlice(at: payload.readerIndex, length: length)!)
            #expect(throws: ReplicationError.self) { try ReplicationMessage(frame: frame) }
        }
    }

    @Test func trailingBytesAreMalformed() {
        var payload = ReplicationMessage.ack(appliedTimestamp: 1).frame().payload
        payload.writeInteger(UInt8(0))
        #expect(throws: ReplicationError.malformedMessage("ack has 1 trailing bytes")) {
            try ReplicationMessage(frame: LogFrame(kind: .ack, payload: payload))
        }
    }

    @Test func invalidUTF8IsMalformed() {
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(2))
        payload.writeBytes([0xC3, 0x28])
        #expect(throws: ReplicationError.self) { try ReplicationMessage(frame: LogFrame(kind: .refused, payload: payload)) }
    }

    @Test func corruptCommitRecordIsMalformed() {
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(0))
        payload.writeInteger(UInt32(1))
        payload.writeInteger(UInt64(5))
        payload.writeInteger(UInt64(1))  // its term
        payload.writeInteger(UInt32(2))
        payload.writeBytes([1, 99])
        #expect(throws: ReplicationError.self) { try ReplicationMessage(frame: LogFrame(kind: .commits, payload: payload)) }
    }

    @Test func commitCountLargerThanThePayloadIsMalformed() {
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(0))
        payload.writeInteger(UInt32.max)
        #expect(throws: ReplicationError.malformedMessage("commits claims 4294967295 commits")) {
            try ReplicationMessage(frame: LogFrame(kind: .commits, payload: payload))
        }
    }

    /// Issue 11 #1: a `commits` frame whose record holds a 10-byte varint length trapped in
    /// `Int(_:)` and killed the receiving node.
    @Test func hugeVarintInACommitRecordIsMalformed() {
        let record: [UInt8] = [1, 1, 10, 1] + Array(repeating: 0xFF, count: 9) + [0x01]
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(0))
        payload.writeInteger(UInt32(1))
        payload.writeInteger(UInt64(5))
        payload.writeInteger(UInt64(1))  // its term
        payload.writeInteger(UInt32(record.count))
        payload.writeBytes(record)
        #expect(throws: ReplicationError.malformedMessage("commit 5: commit record length 18446744073709551615 exceeds the 0 bytes left")) {
            try ReplicationMessage(frame: LogFrame(kind: .commits, payload: payload))
        }
    }
}
