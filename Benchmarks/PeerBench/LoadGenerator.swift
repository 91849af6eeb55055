import Foundation
import Histogram
import Synchronization

/// What one closed-loop run measured: completed operations, failures and latencies.
struct LoadResult: Sendable {
    let operations: Int
    let failures: Int
    let seconds: Double
    /// Microseconds from sending an operation to its answer, all clients merged.
    let latency: Histogram<UInt64>
    /// CPU seconds over the timed phase: the load generator's own process, and the server's if it was given.
    let clientCPU: Double
    let serverCPU: Double?

    var perSecond: Double { Double(operations) / seconds }
    func percentileMilliseconds(_ percentile: Double) -> Double { Double(latency.valueAtPercentile(percentile)) / 1000 }
}

/// The one load generator every peer is driven by: `clients` tasks, each sending its next
/// operation as soon as the previous one is answered (a closed loop, like an app server's
/// request handlers), for `warmup` + `seconds`; only operations started after the warm-up count.
struct LoadGenerator {
    var clients: Int
    var seconds: Double
    var warmup: Double = 1

    /// Runs `operation(client, iteration)` in the loop. A thrown error counts as a failure and
    /// the client goes on; the first one is printed, so a broken peer is visible, not silent.
    /// `server` adds the server's CPU over the timed phase to the result: on 2 shared cores the
    /// rate is bounded by server and client CPU per operation together, so both are reported.
    func run(server: ServerCPU? = nil, _ operation: @escaping @Sendable (Int, Int) async throws -> Void) async -> LoadResult {
        let clock = ContinuousClock()
        let start = clock.now
        let measureFrom = start + .seconds(warmup)
        let end = measureFrom + .seconds(seconds)
        let firstError = FirstError()
        let client = ServerCPU(pids: [getpid()])
        let cpu = Task {
            try? await clock.sleep(until: measureFrom)
            let before = (client.seconds(), server?.seconds())
            try? await clock.sleep(until: end)
            return (client.seconds() - before.0, server.map { $0.seconds() - (before.1 ?? 0) })
        }
        let perClient = await withTaskGroup(of: (Int, Int, Histogram<UInt64>).self) { group in
            for client in 0..<clients {
                group.addTask {
                    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
                    var operations = 0
                    var failures = 0
                    var iteration = 0
                    while true {
                        let sent = clock.now
                        if sent >= end { break }
                        var failed = false
                        do {
                            try await operation(client, iteration)
                        } catch {
                            failed = true
                            firstError.keep(error)
                        }
                        iteration += 1
                        guard sent >= measureFrom else { continue }
                        if failed {
                            failures += 1
                        } else {
                            operations += 1
                            _ = histogram.record(UInt64(max(0, (clock.now - sent).microseconds)))
                        }
                    }
                    return (operations, failures, histogram)
                }
            }
            var merged: [(Int, Int, Histogram<UInt64>)] = []
            for await result in group { merged.append(result) }
            return merged
        }
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for (_, _, histogram) in perClient { latency.add(histogram) }
        if let error = firstError.message { print("  first error: \(error)") }
        return LoadResult(
            operations: perClient.reduce(0) { $0 + $1.0 },
            failures: perClient.reduce(0) { $0 + $1.1 },
            seconds: seconds,
            latency: latency,
            clientCPU: await cpu.value.0,
            serverCPU: await cpu.value.1
        )
    }
}

/// The first failure of a run, kept for the report, and how many there were.
final class FirstError: Sendable {
    private let first = Mutex<(message: String?, count: Int)>((nil, 0))

    func keep(_ error: any Error) {
        first.withLock {
            if $0.message == nil { $0.message = "\(error)" }
            $0.count += 1
        }
    }
    var message: String? { first.withLock { $0.message } }
    var count: Int { first.withLock { $0.count } }
}

extension Duration {
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}
