import Foundation
import RippleBenchApp

/// What synchronous replication costs: the mutations part's durable inserts from `clients`
/// clients against two clusters of a writer and one replica, one acknowledging a mutation once
/// its own commit is durable (`--sync-replicas 0`), the other only after the replica fsynced it
/// too (`--sync-replicas 1`).
struct SyncReplicationPart {
    let clients: Int
    let seconds: Double

    func run(asynchronous: RipplePeer, synchronous: RipplePeer) async throws {
        let generator = LoadGenerator(clients: clients, seconds: seconds)
        print("sync replication: \(clients) clients inserting, \(Int(seconds)) s per cluster (after 1 s warm-up)")
        var results: [LoadResult] = []
        for (label, writer) in [("sync_replicas_0", asynchronous), ("sync_replicas_1", synchronous)] {
            let result = await generator.run { client, iteration in
                try await writer.mutation("events:insert", ["seq": iteration * clients + client, "payload": MutationsPart.payload])
            }
            BenchReport.load("ripple_insert_\(label)", result, unit: "mutations")
            results.append(result)
        }
        BenchReport.metric("sync_replicas_1_vs_0_rate", results[1].perSecond / results[0].perSecond, "x")
        BenchReport.metric("sync_replicas_1_vs_0_p99", results[1].percentileMilliseconds(99) / results[0].percentileMilliseconds(99), "x")
    }
}
