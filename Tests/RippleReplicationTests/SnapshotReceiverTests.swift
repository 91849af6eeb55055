import Testing

@testable import RippleReplication

@Suite struct SnapshotReceiverTests {
    /// SHA-256("abc"), FIPS 180-2 appendix B.1.
    let abcDigest: [UInt8] = [
        0xBA, 0x78, 0x16, 0xBF, 0x8F, 0x01, 0xCF, 0xEA, 0x41, 0x41, 0x40, 0xDE, 0x5D, 0xAE, 0x22, 0x23,
        0xB0, 0x03, 0x61, 0xA3, 0x96, 0x17, 0x7A, 0x9C, 0xB4, 0x10, 0xFF, 0x61, 0xF2, 0x00, 0x15, 0xAD,
    ]

    @Test func contiguousChunksWithTheRightDigestComplete() throws {
        var receiver = SnapshotReceiver()
        #expect(try receiver.receive(.snapshotBegin(ts: 9, totalBytes: 3)) == .begin(ts: 9, totalBytes: 3))
        #expect(receiver.isReceiving)
        #expect(try receiver.receive(.snapshotChunk(offset: 0, bytes: Array("a".utf8))) == .write(offset: 0, bytes: [0x61]))
        #expect(try receiver.receive(.snapshotChunk(offset: 1, bytes: Array("bc".utf8))) == .write(offset: 1, bytes: [0x62, 0x63]))
        #expect(try receiver.receive(.snapshotEnd(sha256: abcDigest)) == .complete(ts: 9))
        #expect(!receiver.isReceiving)
    }

    @Test func chunkAtTheWrongOffsetFails() throws {
        var receiver = SnapshotReceiver()
        _ = try receiver.receive(.snapshotBegin(ts: 9, totalBytes: 3))
        _ = try receiver.receive(.snapshotChunk(offset: 0, bytes: [0x61]))
        #expect(throws: ReplicationError.snapshotOffsetMismatch(expected: 1, received: 2)) {
            try receiver.receive(.snapshotChunk(offset: 2, bytes: [0x63]))
        }
        #expect(!receiver.isReceiving)
    }

    @Test func tooManyOrTooFewBytesFail() throws {
        var long = SnapshotReceiver()
        _ = try long.receive(.snapshotBegin(ts: 9, totalBytes: 2))
        #expect(throws: ReplicationError.snapshotSizeMismatch(expected: 2, received: 3)) {
            try long.receive(.snapshotChunk(offset: 0, bytes: [1, 2, 3]))
        }
        var short = SnapshotReceiver()
        _ = try short.receive(.snapshotBegin(ts: 9, totalBytes: 3))
        _ = try short.receive(.snapshotChunk(offset: 0, bytes: [1, 2]))
        #expect(throws: ReplicationError.snapshotSizeMismatch(expected: 3, received: 2)) {
            try short.receive(.snapshotEnd(sha256: abcDigest))
        }
    }

    @Test func wrongDigestFails() throws {
        var receiver = SnapshotReceiver()
        _ = try receiver.receive(.snapshotBegin(ts: 9, totalBytes: 3))
        _ = try receiver.receive(.snapshotChunk(offset: 0, bytes: Array("abd".utf8)))
        #expect(throws: ReplicationError.snapshotDigestMismatch) { try receiver.receive(.snapshotEnd(sha256: abcDigest)) }
    }

    @Test func messagesOutsideASnapshotFail() throws {
        var receiver = SnapshotReceiver()
        #expect(throws: ReplicationError.self) { try receiver.receive(.snapshotChunk(offset: 0, bytes: [1])) }
        #expect(throws: ReplicationError.self) { try receiver.receive(.snapshotEnd(sha256: abcDigest)) }
        _ = try receiver.receive(.snapshotBegin(ts: 1, totalBytes: 0))
        #expect(throws: ReplicationError.self) { try receiver.receive(.snapshotBegin(ts: 2, totalBytes: 0)) }
    }
}
