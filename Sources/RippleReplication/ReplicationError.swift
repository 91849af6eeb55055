import RippleLog

/// Why a replication link failed. Every case closes the link; the replica then reconnects with
/// backoff and resumes from its durable position.
public enum ReplicationError: Error, Sendable, Equatable {
    /// A frame's CRC-32C does not match its type and payload: the byte stream cannot be trusted.
    case checksumMismatch(expected: UInt32, actual: UInt32)
    /// A frame (or its decompressed payload) is larger than the receiver accepts.
    case frameTooLarge(size: Int, limit: Int)
    /// A frame's type byte names no message this version knows.
    case unknownFrameType(UInt8)
    /// A frame is shorter than its header or its compressed payload is not valid LZ4.
    case malformedFrame(String)
    /// A frame's payload does not parse as the message its type names.
    case malformedMessage(String)
    /// A well-formed message arrived where the protocol does not allow it (for example commits
    /// before the handshake finished).
    case unexpectedMessage(String)
    /// A commit batch does not start right after the last commit received: the writer skipped
    /// commits (`previousTimestamp` is the commit before the batch as the writer sees it).
    case gap(lastReceived: CommitTimestamp, previousTimestamp: CommitTimestamp)
    /// A commit's timestamp is not above the one before it: a resend or a reordering.
    case outOfOrder(lastReceived: CommitTimestamp, received: CommitTimestamp)
    /// The writer refused the handshake; `reason` is its `HandshakeRefusal.wireText`. A refusal
    /// is unauthenticated (anyone on the path can forge one), so the replica retries.
    case refused(reason: String)
    /// The writer's `accepted` does not prove the cluster secret: an impostor, or a different secret.
    case writerNotAuthenticated
    /// A frame after the handshake lacks its tag, or the tag does not match (forged, replayed,
    /// reordered or corrupted on the path).
    case frameNotAuthenticated
    /// The handshake did not finish within the link's handshake timeout.
    case handshakeTimedOut
    /// The writer already holds its limit of links that have not finished the handshake.
    case tooManyPendingLinks
    /// There is no link to the writer right now, or it dropped before the answer came. Retryable.
    case writerUnavailable
    /// The peer sent nothing for longer than the link's read timeout while we were waiting for it.
    case timedOut
    /// A snapshot chunk does not start where the previous one ended.
    case snapshotOffsetMismatch(expected: UInt64, received: UInt64)
    /// A snapshot ended with a different byte count than `snapshotBegin` announced.
    case snapshotSizeMismatch(expected: UInt64, received: UInt64)
    /// A snapshot's bytes do not hash to the SHA-256 in `snapshotEnd`.
    case snapshotDigestMismatch
}

extension ReplicationError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .checksumMismatch(let expected, let actual):
            "frame checksum mismatch: frame says \(hex(expected)), payload hashes to \(hex(actual))"
        case .frameTooLarge(let size, let limit): "frame of \(size) bytes exceeds the limit of \(limit) bytes"
        case .unknownFrameType(let type): "unknown frame type \(type)"
        case .malformedFrame(let why): "malformed frame: \(why)"
        case .malformedMessage(let why): "malformed message: \(why)"
        case .unexpectedMessage(let why): "unexpected message: \(why)"
        case .gap(let last, let previous):
            "gap in the commit stream: last received \(last), batch follows \(previous)"
        case .outOfOrder(let last, let received): "commit \(received) does not follow \(last)"
        case .refused(let reason): "the writer refused the replica: \(reason.logSafe)"
        case .writerNotAuthenticated: "the writer did not prove the cluster secret"
        case .frameNotAuthenticated: "a frame failed authentication"
        case .handshakeTimedOut: "the handshake did not finish in time"
        case .tooManyPendingLinks: "too many replication links are in their handshake"
        case .writerUnavailable: "the writer is not reachable over the replication link"
        case .timedOut: "the replication peer went silent"
        case .snapshotOffsetMismatch(let expected, let received):
            "snapshot chunk at offset \(received), expected \(expected)"
        case .snapshotSizeMismatch(let expected, let received):
            "snapshot has \(received) bytes, announced \(expected)"
        case .snapshotDigestMismatch: "snapshot SHA-256 mismatch"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

extension String {
    /// At most 64 printable ASCII characters of a peer-supplied string, for logs: a peer must not
    /// fill the log or smuggle control characters into it.
    var logSafe: String {
        let limit = 64
        var out = String(unicodeScalars.prefix(limit).map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
        if unicodeScalars.count > limit { out += "…" }
        return out
    }
}
