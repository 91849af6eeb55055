import NIOCore
import NIOEmbedded
import RippleStorage
import Synchronization
import Testing

@testable import RippleReplication

/// A sink that records what was queued and completes at once.
final class RecordingSink: CommitSink {
    let queued = Mutex<[(previous: UInt64, commits: [Commit])]>([])
    func appliedTimestamp() -> UInt64 { 0 }
    func apply(_ commits: [Commit], following previous: UInt64, completion: @escaping @Sendable (Result<UInt64, any Error>) -> Void) {
        queued.withLock { $0.append((previous, commits)) }
        completion(.success(commits.last!.ts))
    }
}

/// `ReplicaCommitHandler` on an `EmbeddedChannel`: commits are queued on the event loop once the
/// writer has accepted, acks follow completions, and everything else reaches the link's task.
@Suite struct ReplicaCommitHandlerTests {
    func makeChannel(applied: UInt64) throws -> (EmbeddedChannel, RecordingSink) {
        let sink = RecordingSink()
        let handler = ReplicaCommitHandler(appliedTimestamp: applied, sink: sink, applies: QueuedApplies(appliedTimestamp: applied)) { _ in }
        return (EmbeddedChannel(handler: handler), sink)
    }

    @Test func queuesChainedBatchesAfterTheHandshakeAndAcksThem() throws {
        let (channel, sink) = try makeChannel(applied: 100)
        let first = makeCommits(count: 3, after: 100)
        let second = makeCommits(count: 2, after: first[2].ts)
        try channel.writeInbound(ReplicationMessage.accepted(latestTimestamp: second[1].ts))
        #expect(try channel.readInbound(as: ReplicationMessage.self) == .accepted(latestTimestamp: second[1].ts))
        try channel.writeInbound(ReplicationMessage.commits(previousTimestamp: 100, commits: first))
        try channel.writeInbound(ReplicationMessage.commits(previousTimestamp: first[2].ts, commits: second))
        try channel.writeInbound(ReplicationMessage.forwardResult(requestID: 7, payload: [1]))

        #expect(sink.queued.withLock { $0.map(\.previous) } == [100, first[2].ts])
        #expect(try channel.readInbound(as: ReplicationMessage.self) == .forwardResult(requestID: 7, payload: [1]))
        #expect(try channel.readInbound(as: ReplicationMessage.self) == nil)
        #expect(try channel.readOutbound(as: ReplicationMessage.self) == .ack(appliedTimestamp: first[2].ts))
        #expect(try channel.readOutbound(as: ReplicationMessage.self) == .ack(appliedTimestamp: second[1].ts))

        try channel.writeInbound(ReplicationMessage.heartbeat(latestTimestamp: second[1].ts))
        #expect(try channel.readOutbound(as: ReplicationMessage.self) == .ack(appliedTimestamp: second[1].ts))
    }

    @Test func aGapFailsTheLinkWithoutQueueing() throws {
        let (channel, sink) = try makeChannel(applied: 100)
        try channel.writeInbound(ReplicationMessage.accepted(latestTimestamp: 200))
        _ = try channel.readInbound(as: ReplicationMessage.self)
        #expect(throws: ReplicationError.self) {
            try channel.writeInbound(ReplicationMessage.commits(previousTimestamp: 150, commits: makeCommits(count: 1, after: 150)))
        }
        #expect(sink.queued.withLock { $0.isEmpty })
    }

    @Test func aSnapshotHandsTheRestOfTheLinkToTheTask() throws {
        let (channel, sink) = try makeChannel(applied: 100)
        try channel.writeInbound(ReplicationMessage.accepted(latestTimestamp: 500))
        try channel.writeInbound(ReplicationMessage.snapshotBegin(ts: 500, totalBytes: 0))
        let after = ReplicationMessage.commits(previousTimestamp: 500, commits: makeCommits(count: 1, after: 500))
        try channel.writeInbound(after)
        #expect(try channel.readInbound(as: ReplicationMessage.self) == .accepted(latestTimestamp: 500))
        #expect(try channel.readInbound(as: ReplicationMessage.self) == .snapshotBegin(ts: 500, totalBytes: 0))
        #expect(try channel.readInbound(as: ReplicationMessage.self) == after)
        #expect(sink.queued.withLock { $0.isEmpty })
    }
}
