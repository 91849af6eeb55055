import NIOCore
import NIOPosix
import RippleStorage
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
        for ts in stride(from: caughtUp + 3, through: caughtUp + 30, by: 3) {
            await log.append([makeCommit(ts: ts)])
            try await withTimeout { try await replica.waitUntilApplied(ts) }
        }
        await log.append(makeCommits(count: 1_500, after: caughtUp + 30))
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
        try await serverTask.value
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
        try await clientTask.value
        restartedTask.cancel()
        try await restartedTask.value
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
        try await clientTask.value
        serverTask.cancel()
        try await serverTask.value
    }

    @Test func wrongSecretIsRefusedAndNotRetried() async throws {
        let log = MemoryCommitLog(commits: makeCommits(count: 3, after: 0))
        let server = makeServer(port: 0, source: log)
        let serverTask = Task { try await server.run() }
        let port = try await server.waitUntilBound()

        let replica = MemoryReplica()
        let intruder = ReplicationClient(
            writerHost: "127.0.0.1", writerPort: port, clusterID: "test", nodeID: "intruder", secret: Array("guess".utf8),
            sink: replica, logger: testLogger, configuration: clientConfiguration
        )
        await #expect(throws: ReplicationError.refused(reason: HandshakeRefusal.authenticationFailed.rawValue)) {
            try await withTimeout { try await intruder.run() }
        }
        let stranger = ReplicationClient(
            writerHost: "127.0.0.1", writerPort: port, clusterID: "other", nodeID: "stranger", secret: secret,
            sink: replica, logger: testLogger, configuration: clientConfiguration
        )
        await #expect(throws: ReplicationError.refused(reason: HandshakeRefusal.wrongClusterID.rawValue)) {
            try await withTimeout { try await stranger.run() }
        }
        #expect(await replica.applied.isEmpty)

        serverTask.cancel()
        try await serverTask.value
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
        try await firstTask.value
    }
}
