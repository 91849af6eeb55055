import RippleLog

/// The replica's side of an accepted link, as a pure state machine: checks that commit batches
/// continue exactly where the last one ended and tracks what the writer has.
///
/// Rule: the writer sends every commit after the replica's applied timestamp, in order, each
/// batch naming the commit before it (`previousTimestamp`). A batch that does not follow the last
/// commit received is a gap; a commit not above its predecessor is a resend or reordering. Both
/// are errors that close the link — the replica reconnects and resumes from its durable position,
/// so nothing is skipped and nothing applied twice.
public struct ReplicaStream: Sendable {
    /// What the connection must do next.
    public enum Action: Sendable, Equatable {
        /// Apply these commits durably, in order (queued on the `CommitSink`, whose completion
        /// acknowledges them), and report the sink's position with `applied(through:)`.
        case apply([Commit])
        /// Send this message (an ack answering a heartbeat, so the writer sees the link alive).
        case send(ReplicationMessage)
        /// Hand `payload` to whoever waits on forward `requestID`.
        case deliverForwardResult(requestID: UInt64, payload: [UInt8])
    }

    /// The newest commit handed out for applying.
    public private(set) var lastReceivedTimestamp: CommitTimestamp
    /// The newest commit reported applied.
    public private(set) var appliedTimestamp: CommitTimestamp
    /// The newest commit timestamp the writer has told us about.
    public private(set) var writerLatestTimestamp: CommitTimestamp

    /// Starts streaming after the handshake: `appliedTimestamp` is what the hello said,
    /// `writerLatestTimestamp` what `accepted` said.
    public init(appliedTimestamp: CommitTimestamp, writerLatestTimestamp: CommitTimestamp) {
        self.lastReceivedTimestamp = appliedTimestamp
        self.appliedTimestamp = appliedTimestamp
        self.writerLatestTimestamp = max(writerLatestTimestamp, appliedTimestamp)
    }

    /// Feeds one message from the writer.
    public mutating func receive(_ message: ReplicationMessage) throws(ReplicationError) -> Action {
        switch message {
        case .commits(let previous, let commits):
            guard previous == lastReceivedTimestamp else { throw .gap(lastReceived: lastReceivedTimestamp, previousTimestamp: previous) }
            guard !commits.isEmpty else { throw .unexpectedMessage("empty commit batch") }
            var last = lastReceivedTimestamp
            for commit in commits {
                guard commit.ts > last else { throw .outOfOrder(lastReceived: last, received: commit.ts) }
                last = commit.ts
            }
            lastReceivedTimestamp = last
            writerLatestTimestamp = max(writerLatestTimestamp, last)
            return .apply(commits)
        case .heartbeat(let latest):
            guard latest >= lastReceivedTimestamp else {
                throw .unexpectedMessage("heartbeat at \(latest) is behind commit \(lastReceivedTimestamp) already received")
            }
            writerLatestTimestamp = max(writerLatestTimestamp, latest)
            return .send(.ack(appliedTimestamp: appliedTimestamp))
        case .forwardResult(let requestID, let payload):
            return .deliverForwardResult(requestID: requestID, payload: payload)
        case .hello, .challenge, .proof, .accepted, .refused, .ack, .forward,
            .snapshotBegin, .snapshotChunk, .snapshotEnd:
            throw .unexpectedMessage("\(message.kind) while streaming commits")
        }
    }

    /// Records that everything through `ts` is applied durably (the ack a heartbeat is answered
    /// with); returns that ack.
    public mutating func applied(through ts: CommitTimestamp) -> ReplicationMessage {
        appliedTimestamp = max(appliedTimestamp, min(ts, lastReceivedTimestamp))
        return .ack(appliedTimestamp: appliedTimestamp)
    }
}
