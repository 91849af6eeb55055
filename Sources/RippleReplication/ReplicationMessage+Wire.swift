import NIOCore
import RippleLog
import RippleValues

// The payload of each message kind. Integers are big-endian; `string` and `bytes` are a u32 byte
// count followed by the bytes (strings UTF-8).
//
//   hello          string clusterID | string nodeID | u64 appliedTimestamp | bytes nonce | u64 term | u64 appliedTerm
//   challenge      bytes nonce
//   proof          bytes hmac
//   accepted       u64 latestTimestamp | bytes proof
//   refused        string reason
//   commits        u64 previousTimestamp | u32 count | count × (u64 ts | u64 term | bytes CommitCodec writes)
//   heartbeat      u64 latestTimestamp
//   ack            u64 appliedTimestamp
//   snapshotBegin  u64 ts | u64 totalBytes
//   snapshotChunk  u64 offset | bytes
//   snapshotEnd    bytes sha256
//   forward        u64 requestID | bytes payload
//   forwardResult  u64 requestID | bytes payload
//
// A payload with bytes left over after its fields is malformed. A hello without `appliedTerm`
// comes from a replica older than commit terms (it could not read these `commits` either): it is
// refused as malformed, with a message that says so.

extension ReplicationMessage {
    /// The message as a frame, its payload allocated from `allocator`.
    public func frame(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> LogFrame {
        var payload = allocator.buffer(capacity: estimatedPayloadSize)
        encodePayload(into: &payload)
        return LogFrame(kind: kind, payload: payload)
    }

    /// Appends the payload (not the frame header) to `buffer`.
    public func encodePayload(into buffer: inout ByteBuffer) {
        switch self {
        case .hello(let clusterID, let nodeID, let applied, let nonce, let term, let appliedTerm):
            buffer.writeLengthPrefixedString(clusterID)
            buffer.writeLengthPrefixedString(nodeID)
            buffer.writeTimestamp(applied)
            buffer.writeLengthPrefixedBytes(nonce)
            buffer.writeInteger(term)
            buffer.writeInteger(appliedTerm)
        case .challenge(let bytes), .proof(let bytes), .snapshotEnd(let bytes):
            buffer.writeLengthPrefixedBytes(bytes)
        case .accepted(let ts, let proof):
            buffer.writeTimestamp(ts)
            buffer.writeLengthPrefixedBytes(proof)
        case .heartbeat(let ts), .ack(let ts):
            buffer.writeTimestamp(ts)
        case .refused(let reason):
            buffer.writeLengthPrefixedString(reason)
        case .commits(let previous, let commits):
            buffer.writeTimestamp(previous)
            buffer.writeInteger(UInt32(commits.count))
            for commit in commits {
                buffer.writeTimestamp(commit.ts)
                buffer.writeInteger(commit.term)
                buffer.writeLengthPrefixedBytes(CommitCodec.encode(commit.writes))
            }
        case .snapshotBegin(let ts, let total):
            buffer.writeTimestamp(ts)
            buffer.writeInteger(total)
        case .snapshotChunk(let number, let bytes), .forward(let number, let bytes), .forwardResult(let number, let bytes):
            buffer.writeInteger(number)
            buffer.writeLengthPrefixedBytes(bytes)
        }
    }

    /// Parses a frame's payload as the message its kind names.
    public init(frame: LogFrame) throws(ReplicationError) {
        var payload = frame.payload
        self = try Self.decode(kind: frame.kind, payload: &payload)
        guard payload.readableBytes == 0 else {
            throw .malformedMessage("\(frame.kind) has \(payload.readableBytes) trailing bytes")
        }
    }

    private static func decode(kind: LogFrame.Kind, payload p: inout ByteBuffer) throws(ReplicationError) -> ReplicationMessage {
        switch kind {
        case .hello:
            let clusterID: String = try p.readField(kind)
            let nodeID: String = try p.readField(kind)
            let applied: CommitTimestamp = try p.readField(kind)
            let nonce: [UInt8] = try p.readField(kind)
            let term: UInt64 = try p.readField(kind)
            guard p.readableBytes > 0 else {
                throw .malformedMessage("hello has no term for its applied commit: the replica runs an older Ripple than the writer; upgrade it")
            }
            return .hello(clusterID: clusterID, nodeID: nodeID, appliedTimestamp: applied, nonce: nonce, term: term, appliedTerm: try p.readField(kind))
        case .challenge: return .challenge(nonce: try p.readField(kind))
        case .proof: return .proof(hmac: try p.readField(kind))
        case .accepted: return .accepted(latestTimestamp: try p.readField(kind), proof: try p.readField(kind))
        case .refused: return .refused(reason: try p.readField(kind))
        case .commits:
            let previous: CommitTimestamp = try p.readField(kind)
            let count = Int(try p.readField(kind) as UInt32)
            guard count <= p.readableBytes / 20 else { throw .malformedMessage("commits claims \(count) commits") }
            var commits: [Commit] = []
            commits.reserveCapacity(count)
            for _ in 0..<count {
                let ts: CommitTimestamp = try p.readField(kind)
                let term: UInt64 = try p.readField(kind)
                let length = Int(try p.readField(kind) as UInt32)
                guard let record = p.readSlice(length: length) else { throw .malformedMessage("commit \(ts) is truncated") }
                let decoded: Result<[LogWrite], ValueError> = record.withUnsafeReadableBytes { bytes in
                    do throws(ValueError) { return .success(try CommitCodec.decode(bytes)) } catch { return .failure(error) }
                }
                switch decoded {
                case .success(let writes): commits.append(Commit(ts: ts, term: term, writes: writes))
                case .failure(let error): throw .malformedMessage("commit \(ts): \(error.message)")
                }
            }
            return .commits(previousTimestamp: previous, commits: commits)
        case .heartbeat: return .heartbeat(latestTimestamp: try p.readField(kind))
        case .ack: return .ack(appliedTimestamp: try p.readField(kind))
        case .snapshotBegin: return .snapshotBegin(ts: try p.readField(kind), totalBytes: try p.readField(kind))
        case .snapshotChunk: return .snapshotChunk(offset: try p.readField(kind), bytes: try p.readField(kind))
        case .snapshotEnd: return .snapshotEnd(sha256: try p.readField(kind))
        case .forward: return .forward(requestID: try p.readField(kind), payload: try p.readField(kind))
        case .forwardResult: return .forwardResult(requestID: try p.readField(kind), payload: try p.readField(kind))
        }
    }

    /// A capacity hint for the payload buffer, so big batches are not regrown many times.
    var estimatedPayloadSize: Int {
        switch self {
        case .commits(_, let commits): 12 + commits.reduce(0) { $0 + $1.estimatedWireSize }
        case .challenge(let bytes), .proof(let bytes), .snapshotEnd(let bytes): 4 + bytes.count
        case .snapshotChunk(_, let bytes), .forward(_, let bytes), .forwardResult(_, let bytes): 12 + bytes.count
        case .hello(let cluster, let node, _, let nonce, _, _): 36 + cluster.utf8.count + node.utf8.count + nonce.count
        case .accepted(_, let proof): 12 + proof.count
        case .refused(let reason): 4 + reason.utf8.count
        case .heartbeat, .ack, .snapshotBegin: 16
        }
    }
}

extension Commit {
    /// Roughly the bytes this commit takes in a `commits` payload: what batching by size uses,
    /// without encoding the commit twice.
    var estimatedWireSize: Int {
        writes.reduce(20) { total, write in
            switch write {
            case .document(_, _, let id, let value): total + 24 + id.utf8.count + (value?.count ?? 0)
            case .createIndex(let index): total + 32 + index.name.utf8.count + index.fields.reduce(0) { $0 + 2 + $1.utf8.count }
            case .createTable(let table): total + 16 + table.name.utf8.count
            case .setIndexState, .dropIndex: total + 16
            }
        }
    }
}

/// A field type a payload can contain.
private protocol WireField {
    static func read(from buffer: inout ByteBuffer) -> Self?
}

extension UInt64: WireField {
    static func read(from buffer: inout ByteBuffer) -> UInt64? { buffer.readInteger() }
}

extension CommitTimestamp: WireField {
    static func read(from buffer: inout ByteBuffer) -> CommitTimestamp? { buffer.readInteger().map(CommitTimestamp.init(nanoseconds:)) }
}

extension UInt32: WireField {
    static func read(from buffer: inout ByteBuffer) -> UInt32? { buffer.readInteger() }
}

extension Array: WireField where Element == UInt8 {
    static func read(from buffer: inout ByteBuffer) -> [UInt8]? {
        guard let count: UInt32 = buffer.getInteger(at: buffer.readerIndex),
            Int(count) <= buffer.readableBytes - 4
        else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return buffer.readBytes(length: Int(count))
    }
}

extension String: WireField {
    static func read(from buffer: inout ByteBuffer) -> String? {
        guard let bytes = [UInt8].read(from: &buffer) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension ByteBuffer {
    fileprivate mutating func readField<Field: WireField>(_ kind: LogFrame.Kind) throws(ReplicationError) -> Field {
        guard let value = Field.read(from: &self) else { throw .malformedMessage("\(kind) payload is truncated or invalid") }
        return value
    }

    fileprivate mutating func writeTimestamp(_ ts: CommitTimestamp) {
        writeInteger(ts.nanoseconds)
    }

    fileprivate mutating func writeLengthPrefixedBytes(_ bytes: [UInt8]) {
        writeInteger(UInt32(truncatingIfNeeded: bytes.count))
        writeBytes(bytes)
    }

    fileprivate mutating func writeLengthPrefixedString(_ string: String) {
        writeInteger(UInt32(truncatingIfNeeded: string.utf8.count))
        writeString(string)
    }
}
