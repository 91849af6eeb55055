import Foundation
import Logging
import Testing

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
        async let first = a.campaign(clientAddress: "a:1", replicationAddress: "a:2")
        async let second = b.campaign(clientAddress: "b:1", replicationAddress: "b:2")
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
        let won = try #require(try await a.campaign(clientAddress: "a:1", replicationAddress: "a:2"))
        try await etcd.client.revoke(lease: won.lease)
        await #expect(throws: Leadership.LeadershipLost.self) {
            try await a.hold(term: won.record.term, lease: won.lease, ttl: won.ttl)
        }
        #expect(a.admitCommit() == false)
        #expect(try await a.leader() == nil)
        let b = etcd.leadership(nodeID: "b")
        let next = try #require(try await b.campaign(clientAddress: "b:1", replicationAddress: "b:2"))
        #expect(next.record.term == won.record.term + 1)
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

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }
}
