import RippleValues

/// Thrown when commits are asked for after a timestamp the log no longer holds: everything
/// through `through` was pruned, so the asker needs a snapshot instead.
public struct CommitLogPruned: Error, Sendable, Equatable, CustomStringConvertible {
    public let through: CommitTimestamp

    public init(through: CommitTimestamp) { self.through = through }

    public var description: String { "the commit log is pruned through \(through)" }
}

/// A logical snapshot of a database at one commit timestamp: the catalog, every document (with
/// its own commit ts) and the document-number high-water mark. Index entries are not included;
/// the installing node derives them from documents and catalog, as it does for shipped commits.
///
/// Layout: `"RSN2"`, varint ts, varint term (of the commit at ts), varint max document number,
/// varint catalog length + `CommitCodec` catalog writes, then documents, each
/// `1, table, number, id, ts, value`, and a final `0`. `"RSN1"` (before terms) has no term: 0.
public enum SnapshotCodec {
    package static let magic: [UInt8] = Array("RSN2".utf8)
    /// The layout before commits recorded their term.
    static let magicWithoutTerm: [UInt8] = Array("RSN1".utf8)

    public struct Document: Sendable, Equatable {
        public let tableNumber: UInt32
        public let number: Int64
        public let id: String
        public let ts: CommitTimestamp
        public let value: [UInt8]
    }

    public struct Decoded: Sendable {
        public let ts: CommitTimestamp
        /// The term of the commit at `ts`: the installing node's log position is `(ts, term)`.
        public let term: UInt64
        public let maxDocumentNumber: Int64
        public let catalog: [LogWrite]
        public let documents: [Document]
    }

    public static func decode(_ bytes: [UInt8]) throws(ValueError) -> Decoded {
        let result: Result<Decoded, ValueError> = bytes.withUnsafeBytes { buffer in
            do throws(ValueError) {
                var r = ByteReader(buffer)
                let version = try r.bytes(count: magic.count)
                guard version == magic || version == magicWithoutTerm else { throw ValueError("not a Ripple snapshot") }
                let ts = CommitTimestamp(nanoseconds: try r.varint())
                var term: UInt64 = 0
                if version == magic { term = try r.varint() }
                let maxNumber = Int64(bitPattern: try r.varint())
                let catalog = try CommitCodec.decode(try r.bytes(count: try r.length()))
                var documents: [Document] = []
                while try r.byte() == 1 {
                    let table = UInt32(truncatingIfNeeded: try r.varint())
                    let number = Int64(bitPattern: try r.varint())
                    let id = try r.string(count: try r.length())
                    let docTs = CommitTimestamp(nanoseconds: try r.varint())
                    let value = try r.bytes(count: try r.length())
                    documents.append(Document(tableNumber: table, number: number, id: id, ts: docTs, value: value))
                }
                guard r.isAtEnd else { throw ValueError("snapshot has trailing bytes") }
                return .success(Decoded(ts: ts, term: term, maxDocumentNumber: maxNumber, catalog: catalog, documents: documents))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
