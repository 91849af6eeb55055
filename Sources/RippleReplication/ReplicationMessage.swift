import RippleLog

/// Everything the writer and a replica say to each other. Each case travels as one `LogFrame`
/// of the matching `LogFrame.Kind`; the byte layout is in `ReplicationMessage+Wire.swift`.
///
/// Conversation: replica `hello` → writer `challenge` → replica `proof` → writer `accepted` or
/// `refused`; then the writer streams `commits` (and `heartbeat` when idle, snapshots when the
/// replica is too far behind), the replica answers with `ack`, and either side of an accepted
/// link may carry `forward` (replica → writer) / `forwardResult` (writer → replica).
public enum ReplicationMessage: Sendable, Equatable {
    /// Replica → writer, first: who it is, the last commit it applied durably, a fresh nonce
    /// the writer must prove the cluster secret over, the leadership term of the writer it
    /// means to follow (0 without failover; a writer of another term refuses it: fencing), and
    /// the term of its last commit (`appliedTerm`: with the timestamp, that commit's identity —
    /// the writer serves the replica from its log only if it holds that very commit).
    case hello(clusterID: String, nodeID: String, appliedTimestamp: CommitTimestamp, nonce: [UInt8], term: UInt64 = 0, appliedTerm: UInt64 = 0)
    /// Writer → replica: a fresh random nonce to prove knowledge of the cluster secret over.
    case challenge(nonce: [UInt8])
    /// Replica → writer: its proof of the cluster secret over both nonces (see `HandshakeProof`).
    case proof(hmac: [UInt8])
    /// Writer → replica: the link is open, and the writer's own proof of the secret; streaming
    /// starts after the replica's applied timestamp, every later frame tagged (`FrameAuthenticator`).
    case accepted(latestTimestamp: CommitTimestamp, proof: [UInt8])
    /// Writer → replica, then close: a `HandshakeRefusal.wireText`. Unauthenticated, so the
    /// replica only logs it and retries.
    case refused(reason: String)
    /// Writer → replica: consecutive commits in timestamp order, each with its term.
    /// `previousTimestamp` is the commit right before the first one (or the replica's applied timestamp for the first batch), so
    /// the replica can tell a gap, which timestamps alone cannot show since they are not dense.
    case commits(previousTimestamp: CommitTimestamp, commits: [Commit])
    /// Writer → replica when idle: the newest commit timestamp, so the replica knows it is current.
    case heartbeat(latestTimestamp: CommitTimestamp)
    /// Replica → writer: everything up to this timestamp is applied durably.
    case ack(appliedTimestamp: CommitTimestamp)
    /// Writer → replica: a snapshot of the database at `ts` follows, `totalBytes` long.
    case snapshotBegin(ts: CommitTimestamp, totalBytes: UInt64)
    /// Writer → replica: snapshot bytes starting at `offset`.
    case snapshotChunk(offset: UInt64, bytes: [UInt8])
    /// Writer → replica: the snapshot is complete; its bytes hash to `sha256`.
    case snapshotEnd(sha256: [UInt8])
    /// Replica → writer: an opaque request (a forwarded mutation call) for the engine.
    case forward(requestID: UInt64, payload: [UInt8])
    /// Writer → replica: the engine's opaque answer to the `forward` with the same id.
    case forwardResult(requestID: UInt64, payload: [UInt8])

    /// The frame kind this message travels as.
    public var kind: LogFrame.Kind {
        switch self {
        case .hello: .hello
        case .challenge: .challenge
        case .proof: .proof
        case .accepted: .accepted
        case .refused: .refused
        case .commits: .commits
        case .heartbeat: .heartbeat
        case .ack: .ack
        case .snapshotBegin: .snapshotBegin
        case .snapshotChunk: .snapshotChunk
        case .snapshotEnd: .snapshotEnd
        case .forward: .forward
        case .forwardResult: .forwardResult
        }
    }
}
