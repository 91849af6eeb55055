import Foundation
import RippleClient
import RippleValues

/// Ripple as Convex's own clients send mutations: over the sync protocol, one `RippleClient` (one
/// WebSocket) per load-generator client, as PostgreSQL gets one connection per client. A mutation
/// is one frame each way plus the Transition that shows its commit; no per-request headers.
struct RippleSyncPeer: Sendable {
    let clients: [RippleClient]

    /// The sockets open on each client's first mutation, inside the load generator's warm-up.
    init(baseURL: String, clients: Int) throws {
        self.clients = try (0..<clients).map { _ in try RippleClient(url: baseURL) }
    }

    func mutation<Args, Result>(_ client: Int, _ reference: MutationReference<Args, Result>, _ args: Args) async throws {
        _ = try await clients[client].mutation(reference, args)
    }

    func shutdown() async {
        for client in clients { await client.close() }
    }
}

/// The bench app's mutations (Benchmarks/RippleBenchApp) as the Swift client names them; numbers
/// travel as Convex's float64, which the app's `v.number()` arguments require.
enum BenchMutations {
    struct Insert: Codable, Sendable {
        var seq: Double
        var payload: String
    }

    struct Transfer: Codable, Sendable {
        var from: Double
        var to: Double
        var amount: Double
    }

    static let insert = MutationReference<Insert, Value>("events:insert")
    static let transfer = MutationReference<Transfer, Value>("accounts:transfer")
}
