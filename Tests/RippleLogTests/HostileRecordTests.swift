import RippleLog
import RippleValues
import Testing

/// Commit records and snapshots reach a node from the replication link, so every length in them
/// is hostile until checked: a varint above `Int.max` must be an error, never a trap.
@Suite struct HostileRecordTests {
    /// A 10-byte varint for 2^64 - 1, which `Int(_:)` cannot represent.
    static let hugeVarint: [UInt8] = Array(repeating: 0xFF, count: 9) + [0x01]

    static let lengthError = ValueError("commit record length 18446744073709551615 exceeds the 0 bytes left")

    @Test func hugeWriteCountIsAnError() {
        #expect(throws: Self.lengthError) { try CommitCodec.decode(Self.hugeVarint) }
    }

    @Test func hugeDocumentIDLengthIsAnError() {
        // One put: kind 1, table 10, number 1, then the id's length.
        let record: [UInt8] = [1, 1, 10, 1] + Self.hugeVarint
        #expect(throws: Self.lengthError) { try CommitCodec.decode(record) }
    }

    @Test func hugeDocumentValueLengthIsAnError() {
        let record: [UInt8] = [1, 1, 10, 1, 1, UInt8(ascii: "a")] + Self.hugeVarint
        #expect(throws: Self.lengthError) { try CommitCodec.decode(record) }
    }

    @Test func hugeTableNameLengthIsAnError() {
        let record: [UInt8] = [1, 3, 10] + Self.hugeVarint
        #expect(throws: Self.lengthError) { try CommitCodec.decode(record) }
    }

    @Test func hugeIndexFieldCountIsAnError() {
        // createIndex: number 1, table 10, name "i", then the field count.
        let record: [UInt8] = [1, 4, 1, 10, 1, UInt8(ascii: "i")] + Self.hugeVarint
        #expect(throws: Self.lengthError) { try CommitCodec.decode(record) }
    }

    @Test func lengthBeyondTheRecordIsAnError() {
        let record: [UInt8] = [1, 1, 10, 1, 5, UInt8(ascii: "a")]
        #expect(throws: ValueError("commit record length 5 exceeds the 1 bytes left")) { try CommitCodec.decode(record) }
    }

    @Test func hugeSnapshotCatalogLengthIsAnError() {
        // "RSN1", ts 1, max document number 1, then the catalog's length.
        let snapshot: [UInt8] = Array("RSN1".utf8) + [1, 1] + Self.hugeVarint
        #expect(throws: Self.lengthError) { try SnapshotCodec.decode(snapshot) }
    }

    @Test func hugeSnapshotDocumentLengthsAreErrors() {
        let head: [UInt8] = Array("RSN1".utf8) + [1, 1, 1, 0]
        // A document: marker 1, table 10, number 1, then the id's length...
        #expect(throws: Self.lengthError) { try SnapshotCodec.decode(head + [1, 10, 1] + Self.hugeVarint) }
        // ...or, after id "a" and ts 1, the value's length.
        #expect(throws: Self.lengthError) { try SnapshotCodec.decode(head + [1, 10, 1, 1, UInt8(ascii: "a"), 1] + Self.hugeVarint) }
    }

    @Test func wellFormedRecordsStillDecode() throws {
        let writes: [LogWrite] = [
            .document(tableNumber: 10, number: 1, id: "a", value: [1, 2]),
            .document(tableNumber: 10, number: 2, id: "b", value: nil),
            .createTable(TableRecord(number: 11, name: "t")),
            .createIndex(IndexRecord(number: 3, tableNumber: 11, name: "by_x", fields: ["x", "y"], state: .ready)),
            .dropIndex(number: 3),
        ]
        #expect(try CommitCodec.decode(CommitCodec.encode(writes)) == writes)
    }
}
