import Foundation
import PostgresNIO
import RippleBenchApp

/// Part 1 over the network: durable one-document inserts into a table with one secondary index,
/// from `clients` concurrent clients: PostgreSQL first, then Ripple over its sync protocol (what
/// the ratio is: Convex's clients send mutations there), then Ripple's HTTP API (reported beside
/// it, so the request path stays tracked).
struct MutationsPart {
    let clients: Int
    let seconds: Double
    /// The servers' processes, for CPU per operation; optional.
    var rippleCPU: ServerCPU?
    var postgresCPU: ServerCPU?

    static let payload = String(repeating: "ripple-", count: 10)

    func run(ripple: RipplePeer, sync: RippleSyncPeer, postgres: PostgresPeer) async throws {
        let generator = LoadGenerator(clients: clients, seconds: seconds)
        print("mutations over the network: \(clients) clients, \(Int(seconds)) s each (after 1 s warm-up);"
            + " the ratio is Ripple's sync protocol (one WebSocket per client), the HTTP API's is beside it")
        try await postgres.setUp([
            "DROP TABLE IF EXISTS events",
            "CREATE TABLE events(id bigserial PRIMARY KEY, seq double precision NOT NULL, payload text NOT NULL)",
            "CREATE INDEX events_by_seq ON events(seq)",
        ])
        let connections = try await postgres.connections(clients)
        let clients = self.clients
        let logger = postgres.logger
        let postgresResult = await generator.run(server: postgresCPU) { client, iteration in
            // Drained, not asked for its command tag: postgres-nio 1.33.2's `execute` that returns the
            // tag traps when the statement's (empty) row stream has not been read yet.
            let rows = try await connections[client].execute(
                InsertEvent(seq: Double(iteration * clients + client), payload: Self.payload), logger: logger)
            for try await _ in rows {}
        }
        for connection in connections { try await connection.close() }
        BenchReport.load("postgres_insert", postgresResult, unit: "mutations")

        let syncResult = await generator.run(server: rippleCPU) { client, iteration in
            try await sync.mutation(client, BenchMutations.insert, .init(seq: Double(iteration * clients + client), payload: Self.payload))
        }
        BenchReport.load("ripple_sync_insert", syncResult, unit: "mutations")
        let httpResult = await generator.run(server: rippleCPU) { client, iteration in
            try await ripple.mutation("events:insert", ["seq": iteration * clients + client, "payload": Self.payload])
        }
        BenchReport.load("ripple_http_insert", httpResult, unit: "mutations")
        BenchReport.metric("mutations_vs_postgres_http", httpResult.perSecond / postgresResult.perSecond, "x")
        BenchReport.bench("mutations_vs_postgres", syncResult.perSecond / postgresResult.perSecond, "x", target: 3, atLeast: true)
    }
}
