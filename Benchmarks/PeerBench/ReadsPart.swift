import Foundation
import RippleBenchApp

/// Part 5: a read-only workload (`accounts:balance`, one indexed point read per query over the
/// HTTP API) against the writer alone, then spread over the writer and one, then two replicas
/// (client k asks node k % n). Besides the rate, the servers' CPU per query: this machine has 2
/// cores for every node and the load generator, so the rate cannot grow with nodes here; what a
/// machine per node would give is projected from the CPU a query costs.
struct ReadsPart {
    let clients: Int
    let seconds: Double
    let accounts: Int
    /// Cores of the machine each node would have to itself in the projection.
    let coresPerNode = 2.0

    func run(nodes: [RipplePeer], cpu: ServerCPU) async throws {
        print("reads: \(clients) clients, accounts:balance over \(accounts) accounts, \(Int(seconds)) s per configuration (after 1 s warm-up)")
        try await seed(nodes)
        let generator = LoadGenerator(clients: clients, seconds: seconds)
        let accounts = self.accounts
        var rates: [Double] = []
        for count in 1...nodes.count {
            let serving = Array(nodes.prefix(count))
            // The CPU reading starts with the timed phase, after the generator's warm-up.
            let cpuAtStart = Task {
                try? await Task.sleep(for: .seconds(generator.warmup))
                return cpu.seconds()
            }
            let result = await generator.run { client, iteration in
                let number = (client &* 7_919 &+ iteration &* 104_729) % accounts
                try await serving[client % count].query("accounts:balance", ["number": number])
            }
            let cpuSeconds = cpu.seconds() - (await cpuAtStart.value)
            let name = count == 1 ? "writer_alone" : "writer_plus_\(count - 1)_replicas"
            BenchReport.load("reads_\(name)", result, unit: "queries")
            let perQuery = cpuSeconds / Double(max(1, result.operations))
            let projected = Double(count) * coresPerNode / perQuery
            print(String(format: "    servers' CPU %.2f s, %.1f us per query; a machine of %.0f cores per node: ~%.0f queries/s",
                         cpuSeconds, perQuery * 1e6, coresPerNode, projected))
            BenchReport.metric("reads_\(name)_cpu_per_query", perQuery * 1e6, "us")
            BenchReport.metric("reads_\(name)_projected_machine_per_node", projected, "queries/s")
            rates.append(result.perSecond)
        }
        if rates.count == 3 {
            BenchReport.bench("read_throughput_2_replicas_vs_writer_alone", rates[2] / rates[0], "x", target: 1.5, atLeast: true)
        }
    }

    /// Accounts 0..<accounts on the writer, then waits until every replica has the last one.
    private func seed(_ nodes: [RipplePeer]) async throws {
        try await nodes[0].seedAccounts(accounts)
        for replica in nodes.dropFirst() {
            try await waitUntil("\(replica.baseURL) has the seeded accounts") {
                (try? await replica.query("accounts:balance", ["number": accounts - 1])) != nil
            }
        }
    }
}

extension RipplePeer {
    /// Accounts 0..<count, `BenchApp.seedBatch` per mutation.
    func seedAccounts(_ count: Int) async throws {
        for first in stride(from: 0, to: count, by: BenchApp.seedBatch) {
            try await mutation("accounts:seed", ["first": first, "count": min(BenchApp.seedBatch, count - first), "balance": 1_000])
        }
    }
}

/// Polls `condition` every 20 ms for at most `seconds`; throws naming `what` if it never held.
func waitUntil(_ what: String, seconds: Double = 60, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while await !condition() {
        guard ContinuousClock.now < deadline else { throw PeerError("timed out after \(Int(seconds)) s waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}
