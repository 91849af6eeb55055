import Foundation
import PostgresNIO
import RippleBenchApp

/// Part 2: the shape of SpacetimeDB's "keynote-2" comparison — each transaction moves 1 unit
/// between two random accounts; uncontended (uniform over all accounts) and contended
/// (`hotShare` of transfers between `hot` hot accounts), on PostgreSQL and on Ripple — over its
/// sync protocol (the ratios), and over its HTTP API (reported beside them).
struct TransfersPart {
    let clients: Int
    let seconds: Double
    let accounts: Int
    let hot: Int
    let hotShare: Double
    /// The servers' processes, for CPU per operation; optional.
    var rippleCPU: ServerCPU?
    var postgresCPU: ServerCPU?

    static let initialBalance = 1_000_000_000

    /// Two distinct accounts; with `contended`, `hotShare` of the pairs come from the hot set.
    func pair(contended: Bool) -> (Int, Int) {
        let range = contended && Double.random(in: 0..<1) < hotShare ? 0..<hot : 0..<accounts
        let from = Int.random(in: range)
        var to = Int.random(in: range)
        while to == from { to = Int.random(in: range) }
        return (from, to)
    }

    func run(ripple: RipplePeer, sync: RippleSyncPeer, postgres: PostgresPeer) async throws {
        print("transfers: \(accounts) accounts, \(clients) clients, \(Int(seconds)) s per run; contended: \(Int(hotShare * 100)) % among \(hot) hot accounts;"
            + " the ratios are Ripple's sync protocol (one WebSocket per client), the HTTP API's are beside them")
        try await postgres.setUp(Transfer.schema + [
            "INSERT INTO accounts SELECT g, \(Self.initialBalance) FROM generate_series(0, \(accounts - 1)) g",
            "VACUUM ANALYZE accounts",
        ])
        var first = 0
        while first < accounts {
            let count = min(10_000, accounts - first)
            try await ripple.mutation("accounts:seed", ["first": first, "count": count, "balance": Self.initialBalance])
            first += count
        }
        let generator = LoadGenerator(clients: clients, seconds: seconds)
        let connections = try await postgres.connections(clients)
        let logger = postgres.logger
        var ratios: [Bool: Double] = [:]
        for contended in [false, true] {
            let name = contended ? "contended" : "uncontended"
            let pg = await generator.run(server: postgresCPU) { client, _ in
                let (from, to) = pair(contended: contended)
                for try await done in try await connections[client].execute(Transfer(from: Int64(from), to: Int64(to), amount: 1), logger: logger) {
                    guard done else { throw PeerError("transfer \(from) -> \(to) refused") }
                }
            }
            BenchReport.load("postgres_transfer_\(name)", pg, unit: "tx")
            let overSync = await generator.run(server: rippleCPU) { client, _ in
                let (from, to) = pair(contended: contended)
                try await sync.mutation(client, BenchMutations.transfer, .init(from: Double(from), to: Double(to), amount: 1))
            }
            BenchReport.load("ripple_sync_transfer_\(name)", overSync, unit: "tx")
            let overHTTP = await generator.run(server: rippleCPU) { _, _ in
                let (from, to) = pair(contended: contended)
                try await ripple.mutation("accounts:transfer", ["from": from, "to": to, "amount": 1])
            }
            BenchReport.load("ripple_http_transfer_\(name)", overHTTP, unit: "tx")
            BenchReport.metric("transfers_vs_postgres_http_\(name)", overHTTP.perSecond / pg.perSecond, "x")
            ratios[contended] = overSync.perSecond / pg.perSecond
        }
        for connection in connections { try await connection.close() }
        BenchReport.bench("transfers_vs_postgres_uncontended", ratios[false]!, "x", target: 2, atLeast: true)
        BenchReport.bench("transfers_vs_postgres_contended", ratios[true]!, "x", target: 5, atLeast: true)
    }
}
