import Foundation
import PostgresNIO
import RippleBenchApp

/// Part 2: the shape of SpacetimeDB's "keynote-2" comparison — each transaction moves 1 unit
/// between two random accounts; uncontended (uniform over all accounts) and contended
/// (`hotShare` of transfers between `hot` hot accounts), on PostgreSQL and on Ripple.
struct TransfersPart {
    let clients: Int
    let seconds: Double
    let accounts: Int
    let hot: Int
    let hotShare: Double

    static let initialBalance = 1_000_000_000

    /// Two distinct accounts; with `contended`, `hotShare` of the pairs come from the hot set.
    func pair(contended: Bool) -> (Int, Int) {
        let range = contended && Double.random(in: 0..<1) < hotShare ? 0..<hot : 0..<accounts
        let from = Int.random(in: range)
        var to = Int.random(in: range)
        while to == from { to = Int.random(in: range) }
        return (from, to)
    }

    func run(ripple: RipplePeer, postgres: PostgresPeer) async throws {
        print("transfers: \(accounts) accounts, \(clients) clients, \(Int(seconds)) s per run; contended: \(Int(hotShare * 100)) % among \(hot) hot accounts")
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
            let pg = await generator.run { client, _ in
                let (from, to) = pair(contended: contended)
                for try await done in try await connections[client].execute(Transfer(from: Int64(from), to: Int64(to), amount: 1), logger: logger) {
                    guard done else { throw PeerError("transfer \(from) -> \(to) refused") }
                }
            }
            BenchReport.load("postgres_transfer_\(name)", pg, unit: "tx")
            let rp = await generator.run { _, _ in
                let (from, to) = pair(contended: contended)
                try await ripple.mutation("accounts:transfer", ["from": from, "to": to, "amount": 1])
            }
            BenchReport.load("ripple_transfer_\(name)", rp, unit: "tx")
            ratios[contended] = rp.perSecond / pg.perSecond
        }
        for connection in connections { try await connection.close() }
        BenchReport.bench("transfers_vs_postgres_uncontended", ratios[false]!, "x", target: 2, atLeast: true)
        BenchReport.bench("transfers_vs_postgres_contended", ratios[true]!, "x", target: 5, atLeast: true)
    }
}
