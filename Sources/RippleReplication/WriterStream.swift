import RippleLog

/// The writer's side of an accepted link, as pure code: cuts the commits after the replica's
/// position into `commits` messages that chain by `previousTimestamp`, and interprets what the
/// replica sends back. The two halves are separate because the connection sends and receives
/// in different tasks.
public struct WriterStream: Sendable {
    /// What the connection must do with a message from the replica.
    public enum Action: Sendable, Equatable {
        /// The replica has applied everything through this timestamp.
        case acknowledged(CommitTimestamp)
        /// Run this forwarded request and answer with `forwardResult` under the same id.
        case forward(requestID: UInt64, payload: [UInt8])
    }

    /// The newest commit sent (initially the replica's applied timestamp).
    public private(set) var sentTimestamp: CommitTimestamp
    /// At most this many commits per message.
    public let maxBatchCommits: Int
    /// A message is closed once its estimated payload reaches this many bytes (a single larger
    /// commit still travels alone).
    public let maxBatchBytes: Int

    public init(appliedTimestamp: CommitTimestamp, maxBatchCommits: Int = 1_000, maxBatchBytes: Int = 4 << 20) {
        self.sentTimestamp = appliedTimestamp
        self.maxBatchCommits = max(1, maxBatchCommits)
        self.maxBatchBytes = maxBatchBytes
    }

    /// The messages carrying `commits`, which must be the next commits after `sentTimestamp` in
    /// ascending order (what `CommitSource.commits(after:limit:)` returns).
    public mutating func messages(for commits: [Commit]) throws(ReplicationError) -> [ReplicationMessage] {
        var messages: [ReplicationMessage] = []
        var batch: [Commit] = []
        var batchBytes = 0
        var batchPrevious = sentTimestamp
        for commit in commits {
            guard commit.ts > sentTimestamp else { throw .outOfOrder(lastReceived: sentTimestamp, received: commit.ts) }
            let size = commit.estimatedWireSize
            if !batch.isEmpty, batch.count >= maxBatchCommits || batchBytes + size > maxBatchBytes {
                messages.append(.commits(previousTimestamp: batchPrevious, commits: batch))
                batchPrevious = batch.last!.ts
                batch.removeAll(keepingCapacity: true)
                batchBytes = 0
            }
            batch.append(commit)
            batchBytes += size
            sentTimestamp = commit.ts
        }
        if !batch.isEmpty { messages.append(.commits(previousTimestamp: batchPrevious, commits: batch)) }
        return messages
    }

    /// What a message from the replica asks for; anything but `ack` and `forward` is an error.
    public static func interpret(_ message: ReplicationMessage) throws(ReplicationError) -> Action {
        switch message {
        case .ack(let applied):
            return .acknowledged(applied)
        case .forward(let requestID, let payload):
            return .forward(requestID: requestID, payload: payload)
        case .hello, .challenge, .proof, .accepted, .refused, .commits, .heartbeat, .forwardResult,
            .snapshotBegin, .snapshotChunk, .snapshotEnd:
            throw .unexpectedMessage("\(message.kind) from a replica while streaming")
        }
    }
}

/// What the writer receives from one replica link, checked in order: forwarded requests must
/// come with growing ids (the replica numbers them in the order it sends them). A repeated id
/// is a duplicated frame — its checksum is intact, and running it again would apply a mutation
/// twice — so it ends the link like any damaged frame; the replica's pending forwards then fail
/// as "may or may not have been applied". (Found by the chaos suite's duplicating proxy.)
public struct ReplicaInbound: Sendable {
    private var lastRequestID: UInt64?

    public init() {}

    /// `WriterStream.interpret`, plus the rule on request ids.
    public mutating func interpret(_ message: ReplicationMessage) throws(ReplicationError) -> WriterStream.Action {
        let action = try WriterStream.interpret(message)
        if case .forward(let requestID, _) = action {
            if let last = lastRequestID, requestID <= last {
                throw .unexpectedMessage("forwarded request \(requestID) after request \(last): a repeated or reordered frame")
            }
            lastRequestID = requestID
        }
        return action
    }
}
