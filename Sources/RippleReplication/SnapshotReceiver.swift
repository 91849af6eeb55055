import Crypto
import RippleLog

/// The replica's side of a snapshot transfer, as a pure state machine: chunks must arrive in
/// order without holes, and the bytes must add up to the announced size and SHA-256.
/// Where the bytes go (a temporary database file) is the caller's business.
public struct SnapshotReceiver: Sendable {
    /// What the caller must do with the snapshot bytes.
    public enum Action: Sendable, Equatable {
        /// Start a new snapshot of the database at `ts`, `totalBytes` long (discard any partial one).
        case begin(ts: CommitTimestamp, totalBytes: UInt64)
        /// Write `bytes` at `offset`.
        case write(offset: UInt64, bytes: [UInt8])
        /// Every byte arrived and checks out: install the snapshot taken at `ts`.
        case complete(ts: CommitTimestamp)
    }

    private enum State: Sendable {
        case idle
        case receiving(ts: CommitTimestamp, totalBytes: UInt64, received: UInt64, hasher: SHA256)
    }

    private var state = State.idle

    public init() {}

    /// Whether a snapshot is in progress.
    public var isReceiving: Bool {
        if case .receiving = state { return true }
        return false
    }

    /// Feeds one snapshot message.
    public mutating func receive(_ message: ReplicationMessage) throws(ReplicationError) -> Action {
        switch (state, message) {
        case (.idle, .snapshotBegin(let ts, let total)):
            state = .receiving(ts: ts, totalBytes: total, received: 0, hasher: SHA256())
            return .begin(ts: ts, totalBytes: total)
        case (.receiving(let ts, let total, let received, var hasher), .snapshotChunk(let offset, let bytes)):
            guard offset == received else { throw fail(.snapshotOffsetMismatch(expected: received, received: offset)) }
            let after = received + UInt64(bytes.count)
            guard after <= total else { throw fail(.snapshotSizeMismatch(expected: total, received: after)) }
            hasher.update(data: bytes)
            state = .receiving(ts: ts, totalBytes: total, received: after, hasher: hasher)
            return .write(offset: offset, bytes: bytes)
        case (.receiving(let ts, let total, let received, let hasher), .snapshotEnd(let digest)):
            guard received == total else { throw fail(.snapshotSizeMismatch(expected: total, received: received)) }
            guard Array(hasher.finalize()) == digest else { throw fail(.snapshotDigestMismatch) }
            state = .idle
            return .complete(ts: ts)
        default:
            throw fail(.unexpectedMessage("\(message.kind) \(isReceiving ? "during" : "outside") a snapshot"))
        }
    }

    private mutating func fail(_ error: ReplicationError) -> ReplicationError {
        state = .idle
        return error
    }
}
