import NIOCore
import NIOEmbedded
import RippleLog
import RippleStorage
import Synchronization
import Testing

@testable import RippleReplication

/// A sink that records what was queued and completes at once.
final class RecordingSink: CommitSink {
    let queued = Mutex<[(previous: CommitTimestamp, commits: [Commit])]>([])
    func appliedTimestamp() -> CommitTimestamp { 0 }
    func apply(_ commits: [Commit], following previous: CommitTimestamp, completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void) {
        queued.withLock { $0.append((previous, commits)) }
        completion(.success(commits.last!.ts))
    }
}

/// A sink that holds every batch until the test completes it: a replica applying slower than it
/// receives.
final class HeldSink: CommitSink {
    private let held = Mutex<[(commits: [Commit], completion: @Sendable (Result<CommitTimestamp, any Error>) -> Void)]>([])
    func appliedTimestamp() -> CommitTimestamp { 0 }
    func apply(_ commits: [Commit], following previous: CommitTimestamp, completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void) {
        held.withLock { $0.append((commits, completion)) }
    }

    var count: Int { held.withLock { $0.count } }

    /// Completes the oldest held batch.
    func completeOne() {
        let (commits, completion) = held.withLock { $0.removeFirst() }
        completion(.success(commits.last!.ts))
    }
}

/// Counts the reads that reach the head of the pipeline (the socket).
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// `ReplicaCommitHandler` on an `EmbeddedChannel`: it runs the handshake, commits are queued on
/// the event loop once the writer has accepted, acks follow completions, everything else
/// reaches the link's task, and reads stop while too much waits to be applied.
@Suite struct ReplicaCommitHandlerTests {
    static let secret = Array("cluster secret".utf8)

    func makeChannel(applied: CommitTimestamp, sink: any CommitSink = RecordingSink(), applies: QueuedApplies? = nil) throws -> EmbeddedChannel {
        let handshake = ReplicaHandshake(clusterID: "test", nodeID: "r1", secret: Self.secret, appliedTimestamp: applied)
        let handler = ReplicaCommitHandler(
            handshake: handshake, appliedTimestamp: applied, sink: sink, applies: applies ?? QueuedApplies(appliedTimestamp: applied)
        ) { _ in }
        let channel = EmbeddedChannel(handlers: [ReadCounter(), handler])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100)).wait()
        return channel
    }

    /// Plays the writer's side of the handshake against the handler; returns the `accepted` sent.
    @discardableResult
    func shakeHands(_ channel: EmbeddedChannel, latest: CommitTimestamp, secret: [UInt8] = secret) throws -> ReplicationMessage? {
        var writer = WriterHandshake(clusterID: "test", secret: secret)
        guard let hello = try channel.readOutbound(as: ReplicationMessage.self), case .send(let challenge) = writer.receive(hello) else {
            Issue.record("no hello")
            return nil
        }
        try channel.writeInbound(challenge)
        guard let proof = try channel.readOutbound(as: ReplicationMessage.self) else {
            Issue.record("no proof")
            return nil
        }
        guard case .lookUpLatestTimestamp = writer.receive(proof) else { return nil }
        guard case .accept(_, _, _, let reply, _) = writer.latestTimestampFound(latest) else { return nil }
        try channel.writeInbound(reply)
        return reply
    }

    @Test func queuesChainedBatchesAfterTheHandshakeAndAcksThem() throws {
        let sink = RecordingSink()
        let channel = try makeChannel(applied: 100, sink: sink)
        let first = makeCommits(count: 3, after: 100)
        let second = makeCommits(count: 2, after: first[2].ts)
        let accepted = try shakeHands(channel, latest: second[1].ts)
        #expect(try channel.readInbound(as: ReplicationMessage.self) == accepted)
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

    @Test func aWriterWithoutTheSecretFailsTheLink() throws {
        let channel = try makeChannel(applied: 100)
        guard case .hello(_, _, _, let replicaNonce, _, _) = try channel.readOutbound(as: ReplicationMessage.self) else {
            Issue.record("no hello")
            return
        }
        let writerNonce = HandshakeProof.randomNonce()
        try channel.writeInbound(ReplicationMessage.challenge(nonce: writerNonce))
        _ = try channel.readOutbound(as: ReplicationMessage.self)
        let transcript = HandshakeTranscript(
            clusterID: "test", nodeID: "r1", appliedTimestamp: 100, replicaNonce: replicaNonce, writerNonce: writerNonce)
        let impostor = HandshakeProof.writer(secret: Array("guess".utf8), transcript, latestTimestamp: 200)
        #expect(throws: ReplicationError.writerNotAuthenticated) {
            try channel.writeInbound(ReplicationMessage.accepted(latestTimestamp: 200, proof: impostor))
        }
        #expect(try channel.readInbound(as: ReplicationMessage.self) == nil)
        #expect(!channel.isActive)
    }

    @Test func aRefusalFailsTheLink() throws {
        let channel = try makeChannel(applied: 100)
        _ = try channel.readOutbound(as: ReplicationMessage.self)
        #expect(throws: ReplicationError.refused(reason: "refused")) { try channel.writeInbound(ReplicationMessage.refused(reason: "refused")) }
        #expect(!channel.isActive)
    }

    @Test func commitsBeforeTheWriterAcceptedFailTheLink() throws {
        let sink = RecordingSink()
        let channel = try makeChannel(applied: 100, sink: sink)
        #expect(throws: ReplicationError.unexpectedMessage("commits during the handshake")) {
            try channel.writeInbound(ReplicationMessage.commits(previousTimestamp: 100, commits: makeCommits(count: 1, after: 100)))
        }
        #expect(sink.queued.withLock { $0.isEmpty })
    }

    @Test func aGapFailsTheLinkWithoutQueueing() throws {
        let sink = RecordingSink()
        let channel = try makeChannel(applied: 100, sink: sink)
        try shakeHands(channel, latest: 200)
        _ = try channel.readInbound(as: ReplicationMessage.self)
        #expect(throws: ReplicationError.self) {
            try channel.writeInbound(ReplicationMessage.commits(previousTimestamp: 150, commits: makeCommits(count: 1, after: 150)))
        }
        #expect(sink.queued.withLock { $0.isEmpty })
    }

    @Test func aSnapshotHandsTheRestOfTheLinkToTheTask() throws {
        let sink = RecordingSink()
        let channel = try makeChannel(applied: 100, sink: sink)
        let accepted = try shakeHands(channel, latest: 500)
        try channel.writeInbound(ReplicationMessage.snapshotBegin(ts: 500, totalBytes: 0))
        let after = ReplicationMessage.commits(previousTimestamp: 500, commits: makeCommits(count: 1, after: 500))
        try channel.writeInbound(after)
        #expect(try channel.readInbound(as: ReplicationMessage.self) == accepted)
        #expect(try channel.readInbound(as: ReplicationMessage.self) == .snapshotBegin(ts: 500, totalBytes: 0))
        #expect(try channel.readInbound(as: ReplicationMessage.self) == after)
        #expect(sink.queued.withLock { $0.isEmpty })
    }

    /// Issue 11 #7: a catching-up replica read without bound while its applier fell behind.
    /// Above the high-water mark no read reaches the socket; below the low one reads resume.
    @Test func readsStopAboveTheHighWaterMarkAndResumeBelowTheLowOne() throws {
        let sink = HeldSink()
        var batches: [ReplicationMessage] = []
        var sizes: [Int] = []
        var last = CommitTimestamp.zero
        for _ in 0..<3 {
            let commits = makeCommits(count: 10, after: last)
            batches.append(.commits(previousTimestamp: last, commits: commits))
            sizes.append(commits.reduce(0) { $0 + $1.estimatedWireSize })
            last = commits.last!.ts
        }
        let applies = QueuedApplies(appliedTimestamp: 0, highWater: sizes.reduce(0, +), lowWater: sizes[2])
        let channel = try makeChannel(applied: 0, sink: sink, applies: applies)
        let counter = try channel.pipeline.syncOperations.handler(type: ReadCounter.self)
        try shakeHands(channel, latest: 1_000_000)
        var received = 0
        func receiveBatch() throws {
            try channel.writeInbound(batches[received])
            received += 1
        }
        for _ in 0..<2 { try receiveBatch() }
        channel.read()
        #expect(counter.reads == 1, "below the high-water mark reads go on")

        try receiveBatch()
        #expect(applies.queuedBytes == sizes.reduce(0, +))
        channel.read()
        channel.read()
        #expect(counter.reads == 1, "at the high-water mark reads are held")

        sink.completeOne()
        channel.embeddedEventLoop.run()
        channel.read()
        #expect(counter.reads == 1, "between the marks reads stay held")

        sink.completeOne()
        channel.embeddedEventLoop.run()
        #expect(applies.queuedBytes == sizes[2])
        #expect(counter.reads == 2, "the held read goes on once the queue is down to the low-water mark")
        channel.read()
        #expect(counter.reads == 3)
        #expect(sink.count == 1)
    }
}
