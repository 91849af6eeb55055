import Foundation
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import RippleLeadership

/// `Leadership` against a real etcd (Debian's `etcd-server`), started on free ports in a
/// temporary directory; skipped where no `etcd` binary is installed.
@Suite(.enabled(if: LocalEtcd.binary != nil, "etcd is not installed (apt-get install etcd-server)"))
struct EtcdLeadershipTests {
    @Test func onlyOneOfTwoSimultaneousCampaignsWinsATerm() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        // A long lease: the winner may commit until its lease could have run out, and under
        // load the two campaigns and the checks below can take longer than a short one.
        let a = etcd.leadership(nodeID: "a", ttlSeconds: 60)
        let b = etcd.leadership(nodeID: "b", ttlSeconds: 60)
        async let first = a.campaign(clientAddress: "a:1", replicationAddress: "a:2", syncRevision: 0)
        async let second = b.campaign(clientAddress: "b:1", replicationAddress: "b:2", syncRevision: 0)
        let outcomes = [try await first, try await second].compactMap { $0 }
        #expect(outcomes.count == 1)
        let winner = try #require(outcomes.first)
        #expect(winner.record.term == 1)
        #expect(try await a.leader() == winner.record)
        #expect(a.admitCommit() != b.admitCommit())
    }

    @Test func aRevokedLeaseEndsTheLeadershipAndTheNextTermIsHigher() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        let a = etcd.leadership(nodeID: "a")
        let won = try #require(try await a.campaign(clientAddress: "a:1", replicationAddress: "a:2", syncRevision: 0))
        try await etcd.client.revoke(lease: won.lease)
        await #expect(throws: Leadership.LeadershipLost.self) {
            try await a.hold(term: won.record.term, lease: won.lease, ttl: won.ttl)
        }
        #expect(a.admitCommit() == false)
        #expect(try await a.leader() == nil)
        let b = etcd.leadership(nodeID: "b")
        let next = try #require(try await b.campaign(clientAddress: "b:1", replicationAddress: "b:2", syncRevision: 0))
        #expect(next.record.term == won.record.term + 1)
    }

    @Test func aCandidatePausedAfterJudgingItsEligibilityLosesToASyncSetRecordedSince() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        let a = etcd.leadership(nodeID: "a", ttlSeconds: 60)
        let b = etcd.leadership(nodeID: "b", ttlSeconds: 60)
        // b reads /sync (absent: anyone may lead), then pauses.
        let judged = try await b.syncRecord()
        #expect(judged == SyncReading(record: nil, revision: 0))
        // Meanwhile a wins, makes c its only sync replica, acknowledges commits on c, and dies.
        let won = try #require(try await a.campaign(clientAddress: "a:1", replicationAddress: "a:2", syncRevision: judged.revision))
        let syncSet = SyncRecord(leader: "a", term: won.record.term, required: 1, members: ["c"])
        guard case .recorded = try await a.recordSync(syncSet, as: won.record, over: judged.revision) else {
            Issue.record("a could not record its sync set")
            return
        }
        try await etcd.client.revoke(lease: won.lease)
        // b resumes: its campaign must not win on the stale judgement.
        #expect(try await b.campaign(clientAddress: "b:1", replicationAddress: "b:2", syncRevision: judged.revision) == nil)
        #expect(try await b.leader() == nil)
        #expect(try await b.syncRecord().allowsPromotion(of: "b") == false)
    }

    @Test func aDelayedSyncWriteCannotLandOverANewerOneAndALostAnswerIsReadBack() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        let a = etcd.leadership(nodeID: "a", ttlSeconds: 60)
        let won = try #require(try await a.campaign(clientAddress: "a:1", replicationAddress: "a:2", syncRevision: 0))
        let first = SyncRecord(leader: "a", term: won.record.term, required: 1, members: ["b"])
        let second = SyncRecord(leader: "a", term: won.record.term, required: 1, members: ["c"])
        guard case .recorded(let firstRevision) = try await a.recordSync(first, as: won.record, over: 0) else {
            Issue.record("the first sync set was not recorded")
            return
        }
        // The answer to the first write was lost: reading back says it landed.
        #expect(try await a.resolveSync(first, over: 0) == .recorded(revision: firstRevision))
        // A write of the second set whose answer is lost, read back before it landed.
        #expect(try await a.resolveSync(second, over: firstRevision) == .notLanded)
        guard case .recorded(let secondRevision) = try await a.recordSync(second, as: won.record, over: firstRevision) else {
            Issue.record("the second sync set was not recorded")
            return
        }
        // The first write, delayed in the network, arrives again: it compared the old revision.
        #expect(try await a.recordSync(first, as: won.record, over: 0) == .refused)
        #expect(try await a.syncRecord() == SyncReading(record: second, revision: secondRevision))
    }

    @Test func aWriterThatNoLongerLeadsCannotRecordItsSyncSet() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        let a = etcd.leadership(nodeID: "a", ttlSeconds: 60)
        let won = try #require(try await a.campaign(clientAddress: "a:1", replicationAddress: "a:2", syncRevision: 0))
        try await etcd.client.revoke(lease: won.lease)
        let record = SyncRecord(leader: "a", term: won.record.term, required: 1, members: ["b"])
        #expect(try await a.recordSync(record, as: won.record, over: 0) == .refused)
        #expect(try await a.syncRecord() == SyncReading(record: nil, revision: 0))
    }

    @Test func anUnreadableSyncRecordKeepsEveryCandidateFromStanding() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        let a = etcd.leadership(nodeID: "a")
        try await etcd.client.put(a.keys.sync, Array("not json".utf8))
        await #expect(throws: UnreadableSyncRecord(key: a.keys.sync, value: "not json")) {
            try await a.syncRecord()
        }
    }

    @Test func cancellingTheHoldResignsAtOnce() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        let a = etcd.leadership(nodeID: "a", ttlSeconds: 60)
        let won = try #require(try await a.campaign(clientAddress: "a:1", replicationAddress: "a:2", syncRevision: 0))
        let holding = Task { try await a.hold(term: won.record.term, lease: won.lease, ttl: won.ttl) }
        holding.cancel()
        await #expect(throws: CancellationError.self) { try await holding.value }
        // Revoked, not left to expire in 60 s.
        #expect(try await a.leader() == nil)
        #expect(a.admitCommit() == false)
    }

    @Test func aResigningWriterStopsCommittingBeforeItsLeaseIsRevoked() async throws {
        let etcd = try await LocalEtcd.start()
        defer { etcd.stop() }
        // A client that waits long for etcd: the revoke below hangs while etcd is stopped.
        let patient = EtcdClient(baseURL: etcd.client.baseURL, timeout: .seconds(30))
        let a = Leadership(etcd: patient, clusterID: "test", nodeID: "a", ttlSeconds: 60, logger: Logger(label: "test"))
        let won = try #require(try await a.campaign(clientAddress: "a:1", replicationAddress: "a:2", syncRevision: 0))
        #expect(a.admitCommit())
        let holding = Task { try await a.hold(term: won.record.term, lease: won.lease, ttl: won.ttl) }
        etcd.pause()
        holding.cancel()
        // The permit must go while the revoke is still on its way, not after it.
        let deadline = ContinuousClock.now.advanced(by: .seconds(20))
        while a.admitCommit(), ContinuousClock.now < deadline { await Task.yield() }
        #expect(a.admitCommit() == false)
        etcd.resume()
        await #expect(throws: CancellationError.self) { try await holding.value }
    }
}

/// One etcd process for a test.
struct LocalEtcd {
    static let binary: String? = ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }

    let process: Process
    let directory: URL
    let client: EtcdClient

    static func start() async throws -> LocalEtcd {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let clientPort = Int.random(in: 20_000..<40_000)
        let peerPort = clientPort + 1
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary!)
        process.arguments = [
            "--name", "test", "--data-dir", directory.appendingPathComponent("data").path,
            "--listen-client-urls", "http://127.0.0.1:\(clientPort)", "--advertise-client-urls", "http://127.0.0.1:\(clientPort)",
            "--listen-peer-urls", "http://127.0.0.1:\(peerPort)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPort)",
            "--initial-cluster", "test=http://127.0.0.1:\(peerPort)", "--heartbeat-interval", "50", "--election-timeout", "500",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let etcd = LocalEtcd(process: process, directory: directory, client: EtcdClient(baseURL: "http://127.0.0.1:\(clientPort)"))
        // Ready once it answers a read; it takes well under a second.
        for _ in 0..<200 {
            if (try? await etcd.client.list(prefix: "/")) != nil { return etcd }
            try await Task.sleep(for: .milliseconds(50))
        }
        etcd.stop()
        throw EtcdClient.Failure(endpoint: "/v3/kv/range", reason: "the test etcd did not start within 10 s")
    }

    func leadership(nodeID: String, ttlSeconds: Int64 = 1) -> Leadership {
        Leadership(etcd: client, clusterID: "test", nodeID: nodeID, ttlSeconds: ttlSeconds, logger: Logger(label: "test"))
    }

    /// Stops etcd answering without ending it (SIGSTOP), as a paused or partitioned etcd.
    func pause() { kill(process.processIdentifier, SIGSTOP) }

    func resume() { kill(process.processIdentifier, SIGCONT) }

    func stop() {
        resume()
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}
