// RippleLog — what a commit is, byte for byte: `Commit` and its `LogWrite`s, `CommitCodec` and
// `LogBatch` (the commit log's rows), the catalog a log derives (`Catalog`), the changes applying
// a commit makes (`DocumentChange`, `IndexChange`) and the snapshot format (`SnapshotCodec`).
// Pure: it may import RippleValues only, so storage, replication and reactivity share these
// types without any of them reaching SQLite or a socket.

import RippleValues

/// One change in a commit, as stored in the commit log and shipped to replicas. Index entries
/// are not shipped: every node derives them from documents and its catalog.
public enum LogWrite: Sendable, Equatable {
    /// A document's new full value (`ValueCodec` bytes, with `_id`/`_creationTime`), or `nil` when deleted.
    case document(tableNumber: UInt32, number: Int64, id: String, value: [UInt8]?)
    case createTable(TableRecord)
    case createIndex(IndexRecord)
    case setIndexState(number: Int64, state: IndexRecord.State)
    case dropIndex(number: Int64)
}

/// A committed transaction: its timestamp, the term it was sequenced in, and its writes, in order.
///
/// `(ts, term)` is the commit's identity across writers. A timestamp alone is not: a writer whose
/// clock is behind its log issues `last + 1`, `last + 2`, … (`CommitClock`), so an old writer's
/// unacknowledged tail and its successor's commits can carry the same timestamps. Two writers
/// never share a term, so two logs holding a commit with the same ts and term hold the same
/// commits up to it (Raft's log matching: each writer extends the log it was elected with).
public struct Commit: Sendable, Equatable {
    public let ts: CommitTimestamp
    /// The leadership term of the writer that sequenced the commit; 0 without failover, and for
    /// commits logged before terms were recorded.
    public let term: UInt64
    public let writes: [LogWrite]

    public init(ts: CommitTimestamp, term: UInt64 = 0, writes: [LogWrite]) {
        self.ts = ts
        self.term = term
        self.writes = writes
    }
}

/// The binary form of a commit's writes in the `commit_log` table.
public enum CommitCodec {
    enum Kind: UInt8 {
        case putDocument = 1, deleteDocument, createTable, createIndex, setIndexState, dropIndex
    }

    public static func encode(_ writes: [LogWrite]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 * writes.count)
        encode(writes, into: &out)
        return out
    }

    /// Appends the encoding of `writes` to `out`; it is self-delimiting, so several can follow
    /// each other (see `LogBatch`).
    public static func encode(_ writes: [LogWrite], into out: inout [UInt8]) {
        appendVarint(UInt64(writes.count), to: &out)
        for write in writes {
            switch write {
            case .document(let table, let number, let id, let value):
                out.append((value == nil ? Kind.deleteDocument : Kind.putDocument).rawValue)
                appendVarint(UInt64(table), to: &out)
                appendVarint(UInt64(bitPattern: number), to: &out)
                appendString(id, to: &out)
                if let value {
                    appendVarint(UInt64(value.count), to: &out)
                    out.append(contentsOf: value)
                }
            case .createTable(let table):
                out.append(Kind.createTable.rawValue)
                appendVarint(UInt64(table.number), to: &out)
                appendString(table.name, to: &out)
            case .createIndex(let index):
                out.append(Kind.createIndex.rawValue)
                appendVarint(UInt64(bitPattern: index.number), to: &out)
                appendVarint(UInt64(index.tableNumber), to: &out)
                appendString(index.name, to: &out)
                appendVarint(UInt64(index.fields.count), to: &out)
                for field in index.fields { appendString(field, to: &out) }
                out.append(index.state.rawValue)
            case .setIndexState(let number, let state):
                out.append(Kind.setIndexState.rawValue)
                appendVarint(UInt64(bitPattern: number), to: &out)
                out.append(state.rawValue)
            case .dropIndex(let number):
                out.append(Kind.dropIndex.rawValue)
                appendVarint(UInt64(bitPattern: number), to: &out)
            }
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(ValueError) -> [LogWrite] {
        let result: Result<[LogWrite], ValueError> = bytes.withUnsafeBytes { buf in
            do throws(ValueError) { return .success(try decode(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func decode(_ buffer: UnsafeRawBufferPointer) throws(ValueError) -> [LogWrite] {
        var r = ByteReader(buffer)
        let writes = try decode(&r)
        guard r.isAtEnd else { throw ValueError("commit record has trailing bytes") }
        return writes
    }

    /// Reads one encoding of writes from `r`, leaving it just after.
    static func decode(_ r: inout ByteReader) throws(ValueError) -> [LogWrite] {
        let count = try r.length()
        var writes: [LogWrite] = []
        writes.reserveCapacity(count)
        for _ in 0..<count {
            guard let kind = Kind(rawValue: try r.byte()) else { throw ValueError("commit record has an unknown write kind") }
            switch kind {
            case .putDocument, .deleteDocument:
                let table = UInt32(truncatingIfNeeded: try r.varint())
                let number = Int64(bitPattern: try r.varint())
                let id = try r.string(count: try r.length())
                let value = kind == .putDocument ? try r.bytes(count: try r.length()) : nil
                writes.append(.document(tableNumber: table, number: number, id: id, value: value))
            case .createTable:
                let number = UInt32(truncatingIfNeeded: try r.varint())
                let name = try r.string(count: try r.length())
                writes.append(.createTable(TableRecord(number: number, name: name)))
            case .createIndex:
                let number = Int64(bitPattern: try r.varint())
                let table = UInt32(truncatingIfNeeded: try r.varint())
                let name = try r.string(count: try r.length())
                let fieldCount = try r.length()
                var fields: [String] = []
                for _ in 0..<fieldCount { fields.append(try r.string(count: try r.length())) }
                guard let state = IndexRecord.State(rawValue: try r.byte()) else { throw ValueError("commit record index state is corrupt") }
                writes.append(.createIndex(IndexRecord(number: number, tableNumber: table, name: name, fields: fields, state: state)))
            case .setIndexState:
                let number = Int64(bitPattern: try r.varint())
                guard let state = IndexRecord.State(rawValue: try r.byte()) else { throw ValueError("commit record index state is corrupt") }
                writes.append(.setIndexState(number: number, state: state))
            case .dropIndex:
                writes.append(.dropIndex(number: Int64(bitPattern: try r.varint())))
            }
        }
        return writes
    }

    package static func appendString(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { buf in
            appendVarint(UInt64(buf.count), to: &out)
            out.append(contentsOf: buf)
        }
    }
}

/// The commits of one group commit on their way into one `commit_log` row, encoded as they are
/// made: the writer pays for one row per group instead of one per mutation. A row's commits
/// share its term: one writer sequenced them all.
///
/// A row holding one commit is that commit's `CommitCodec` bytes, keyed by its timestamp (the
/// original layout). A row holding several is, per commit, a varint timestamp followed by its
/// `CommitCodec` bytes, keyed by the last commit's timestamp, so every commit of a row is at or
/// below its key and above the previous row's key.
public struct LogBatch: Sendable {
    public private(set) var count = 0
    public private(set) var lastTimestamp: CommitTimestamp = .zero
    /// The term of the writer sequencing the batch's commits (see `Commit.term`).
    public let term: UInt64
    private var frames: [UInt8] = []
    /// Where the first commit's `CommitCodec` bytes start, after its timestamp.
    private var firstWritesStart = 0

    public init(term: UInt64 = 0) { self.term = term }

    public var isEmpty: Bool { count == 0 }

    public mutating func append(ts: CommitTimestamp, writes: [LogWrite]) {
        precondition(ts > lastTimestamp, "commits join a batch in timestamp order")
        appendVarint(ts.nanoseconds, to: &frames)
        if count == 0 { firstWritesStart = frames.count }
        CommitCodec.encode(writes, into: &frames)
        count += 1
        lastTimestamp = ts
    }

    /// Empties the batch, keeping its buffer for the next group.
    public mutating func removeAll() {
        count = 0
        lastTimestamp = .zero
        frames.removeAll(keepingCapacity: true)
    }

    /// Calls `body` with the row's payload.
    package func withPayload<T>(_ body: (UnsafeRawBufferPointer) -> T) -> T {
        let start = count == 1 ? firstWritesStart : 0
        return frames.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start...])) }
    }

    /// The commits of a stored row (`commits` of them, keyed `ts`, sequenced in `term`).
    package static func decode(ts: CommitTimestamp, commits: Int, term: UInt64, payload: UnsafeRawBufferPointer) throws(ValueError) -> [Commit] {
        if commits == 1 { return [Commit(ts: ts, term: term, writes: try CommitCodec.decode(payload))] }
        var r = ByteReader(payload)
        var out: [Commit] = []
        out.reserveCapacity(commits)
        var previous = CommitTimestamp.zero
        for _ in 0..<commits {
            let commitTs = CommitTimestamp(nanoseconds: try r.varint())
            guard commitTs > previous, commitTs <= ts else { throw ValueError("commit log row has timestamps out of order") }
            out.append(Commit(ts: commitTs, term: term, writes: try CommitCodec.decode(&r)))
            previous = commitTs
        }
        guard r.isAtEnd, previous == ts else { throw ValueError("commit log row is corrupt") }
        return out
    }
}

extension ByteReader {
    /// A varint byte or element count, checked against the bytes left (every element takes at
    /// least one): a corrupt or hostile varint above `Int.max` must throw, not trap in `Int(_:)`.
    mutating func length() throws(ValueError) -> Int {
        let value = try varint()
        guard value <= UInt64(remaining) else { throw ValueError("commit record length \(value) exceeds the \(remaining) bytes left") }
        return Int(value)
    }
}
