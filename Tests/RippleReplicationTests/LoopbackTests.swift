import NIOCore
import Logging
import NIOPosix
import RippleLog
import RippleStorage
import RippleTestSupport
import Testing

@testable import RippleReplication

/// Writer and replica on loopback TCP, with in-memory log and database.
@Suite(.timeLimit(.minutes(1))) struct LoopbackTests {
    let secret = Array("cluster secret".utf8)
    let clientConfiguration = ReplicationClient.Configuration(initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))

    func makeServer(port: Int, source: MemoryCommitLog) -> ReplicationServer {
        ReplicationServer(host: "127.0.0.1", port: port, clusterID: "test", secret: secret, source: source, logger: testLogger)
    }

    @Test func catchUpTailForwardAndResumeAfterRestart() async throws {
        let log = MemoryCommitLog(commits: makeCommits(count: 5_000, after: 1_000))
        let replica = MemoryReplica()

        let server = makeServer(port: 0, source: log)
        let serverTask = Task { try await server.run() }
        let port = try await server.waitUntilBound()

        let client = ReplicationClient(
            writerHost: "127.0.0.1", writerPort: port, clusterID: "test", nodeID: "replica-1", secret: secret,
            sink: replica, logger: testLogger, configuration: clientConfiguration
        )
        let clientTask = Task { try await client.run() }

        // Catch-up.
        let caughtUp = await log.latestTimestamp()
        try await withTimeout { try await replica.waitUntilApplied(caughtUp) }
        #expect(await replica.applied.count == 5_000)

        // Live tail, one commit at a time and a burst.
        for nanoseconds in stride(from: caughtUp.nanoseconds + 3, through: caughtUp.nanoseconds + 30, by: 3) {
            let ts = CommitTimestamp(nanoseconds: nanoseconds)
            await log.append([makeCommit(ts: ts)])
            try await withTimeout { try await replica.waitUntilApplied(ts) }
        }
        await log.append(makeCommits(count: 1_500, after: CommitTimestamp(nanoseconds: caughtUp.nanoseconds + 30)))
        let live = await log.latestTimestamp()
        try await withTimeout { try await replica.waitUntilApplied(live) }
        #expect(await client.writerLatestTimestamp == live)

        // Forwarded requests, concurrently.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<20 {
                group.addTask {
                    let payload = (0..<UInt8(n + 1)).map { $0 }
                    let answer = try await client.forward(payload)
                    #expect(answer == payload.reversed())
                }
            }
            try await group.waitForAll()
        }

        // The writer goes away; commits keep arriving in its log meanwhile.
        serverTask.cancel()
        try await boundedValue(of: serverTask, "the replication server's run returns")
        await log.append(makeCommits(count: 700, after: live))
        let afterRestart = await log.latestTimestamp()

        let restarted = makeServer(port: port, source: log)
        let restartedTask = Task { try await restarted.run() }
        try await withTimeout { try await replica.waitUntilApplied(afterRestart) }
        #expect(try await client.forward([1, 2]) == [2, 1])

        // Nothing skipped, nothing applied twice.
        #expect(await replica.violations == [])
        #expect(await replica.applied.map(\.ts) == log.log.map(\.ts))
        #expect(await replica.applied == log.log)

        clientTask.cancel()
        try await boundedValue(of: clientTask, "the replica client's run returns")
        restartedTask.cancel()
        try await boundedValue(of: restartedTask, "the restarted replication server's run returns")
    }

    @Test func acknowledgementsReachTheSource() async throws {
        let log = MemoryCommitLog(commits: makeCommits(count: 10, after: 0), heartbeatInterval: .milliseconds(50))
        let replica = MemoryReplica()
        let server = makeServer(port: 0, source: log)
        let serverTask = Task { try await server.run() }
        let port = try await server.waitUntilBound()
        let client = ReplicationClient(
            writerHost: "127.0.0.1", writerPort: port, clusterID: "test", nodeID: "replica-ack", secret: secret,
            sink: replica, logger: testLogger, configuration: clientConfiguration
        )
        let clientTask = Task { try await client.run() }
        let latest = await log.latestTimestamp()
        try await withTimeout { try await replica.waitUntilApplied(latest) }
        try await withTimeout { try await log.waitForAcknowledgement(latest) }
        #expect(await log.acknowledgements == ["replica-ack": latest])
        clientTask.cancel()
        try await boundedValue(of: clientTask, "the replica client's run returns")
        serverTask.cancel()
        try await boundedValue(of: serverTask, "the replication server's run returns")
    }

    /// Issue 11 #9: a refusal carries no proof of the secret, so a replica that gave up on one
    /// could be stopped for good by anyone on the path. It retries with backoff instead.
    @Test func refusedReplicasKeepRetryingWithBackoff() async throws {
        let log = MemoryCommitLog(commits: makeCommits(count: 3, after: 0))
        let server = makeServer(port: 0, source: log)
        let serverTask = Task { try await server.run() }
        let port = try await server.waitUntilBound()

        let replica = MemoryReplica()
        for (clusterID, secret) in [("test", Array("guess".utf8)), ("other", secret)] {
            let (logger, lines) = recordingLogger()
            let refused = ReplicationClient(
                writerHost: "127.0.0.1", writerPort: port, clusterID: clusterID, nodeID: "intruder", secret: secret,
                sink: replica, logger: logger, configuration: clientConfiguration
            )
            let task = Task { try await refused.run() }
            try await withTimeout {
                var refusals = 0
                for await line in lines where line.hasPrefix("writer refused this replica") {
                    refusals += 1
                    if refusals == 3 { break }
                }
            }
            task.cancel()
            try await boundedValue(of: task, "the refused replica client's run returns")
        }
        #expect(await replica.applied.isEmpty)

        serverTask.cancel()
        try await boundedValue(of: serverTask, "the replication server's run returns")
    }

    /// Issue 11 #1: links in their handshake are capped; more are closed on connect, and a
    /// replica gets in once one of them is gone.
    @Test func linksBeyondThePendingLimitAreClosedOnConnect() async throws {
        let log = MemoryCommitLog(commits: makeCommits(count: 3, after: 0))
        var configuration = ReplicationServer.Configuration()
        configuration.maxPendingLinks = 1
        configuration.link.handshakeTimeout = .seconds(60)
        let server = ReplicationServer(
            host: "127.0.0.1", port: 0, clusterID: "test", secret: secret, source: log, logger: testLogger, configuration: configuration)
        let serverTask = Task { try await server.run() }
        let port = try await server.waitUntilBound()

        // The first link says hello and gets its challenge: it is admitted and pending.
        let pending = try await RawPeer.connect(port: port)
        try await pending.send(try encodedBytes([.hello(clusterID: "test", nodeID: "slow", appliedTimestamp: 0, nonce: HandshakeProof.randomNonce())]))
        #expect(try await pending.firstBytes.get() != nil)
        // The second is closed before it says anything.
        let extra = try await RawPeer.connect(port: port)
        #expect(try await withTimeout { try await extra.firstBytes.get() } == nil)

        try await pending.close()
        let replica = MemoryReplica()
        let client = ReplicationClient(
            writerHost: "127.0.0.1", writerPort: port, clusterID: "test", nodeID: "replica-1", secret: secret,
            sink: replica, logger: testLogger, configuration: clientConfiguration
        )
        let clientTask = Task { try await client.run() }
        let latest = await log.latestTimestamp()
        try await withTimeout { try await replica.waitUntilApplied(latest) }
        clientTask.cancel()
        try await boundedValue(of: clientTask, "the replica client's run returns")
        serverTask.cancel()
        try await boundedValue(of: serverTask, "the replication server's run returns")
    }

    @Test func forwardWithoutALinkIsUnavailable() async throws {
        let client = ReplicationClient(
            writerHost: "127.0.0.1", writerPort: 9, clusterID: "test", nodeID: "r", secret: secret,
            sink: MemoryReplica(), logger: testLogger
        )
        #expect(await !client.isConnected)
        await #expect(throws: ReplicationError.writerUnavailable) { try await client.forward([1]) }
    }

    @Test func serverReportsBindFailure() async throws {
        let log = MemoryCommitLog()
        let first = makeServer(port: 0, source: log)
        let firstTask = Task { try await first.run() }
        let port = try await first.waitUntilBound()
        let second = ReplicationServer(host: "127.0.0.1", port: port, clusterID: "test", secret: secret, source: log, logger: testLogger)
        await #expect(throws: (any Error).self) { try await second.run() }
        await #expect(throws: (any Error).self) { try await second.waitUntilBound() }
        firstTask.cancel()
        try await boundedValue(of: firstTask, "the first replication server's run returns")
    }
}

/// A bare TCP peer of the replication port, for speaking out of turn.
struct RawPeer: Sendable {
    let channel: any Channel
    /// The first bytes the writer sends, or nil if it closes the connection first.
    let firstBytes: EventLoopFuture<ByteBuffer?>

    static func connect(port: Int) async throws -> RawPeer {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let first = loop.makePromise(of: ByteBuffer?.self)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FirstBytes(first)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawPeer(channel: channel, firstBytes: first.futureResult)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func close() async throws {
        try await channel.close()
    }

    private final class FirstBytes: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<ByteBuffer?>
        init(_ promise: EventLoopPromise<ByteBuffer?>) { self.promise = promise }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { promise.succeed(unwrapInboundIn(data)) }
        func channelInactive(context: ChannelHandlerContext) { promise.succeed(nil) }
    }
}
