import Foundation
import RippleBenchApp

extension BenchReport {
    /// Rate, p50, p99 and p99.9 of one peer's run, printed and as `METRIC <prefix>_*` lines.
    static func load(_ prefix: String, _ result: LoadResult, unit: String) {
        print(String(format: "  %-34@ %10.0f %@/s  p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  (%d failed)",
                     prefix as NSString, result.perSecond, unit as NSString, result.percentileMilliseconds(50),
                     result.percentileMilliseconds(99), result.percentileMilliseconds(99.9), result.failures))
        metric("\(prefix)_rate", result.perSecond, "\(unit)/s")
        metric("\(prefix)_p50", result.percentileMilliseconds(50), "ms")
        metric("\(prefix)_p99", result.percentileMilliseconds(99), "ms")
        metric("\(prefix)_p999", result.percentileMilliseconds(99.9), "ms")
        metric("\(prefix)_failed", Double(result.failures), "operations")
        guard result.operations > 0 else { return }
        let perOperation = { (seconds: Double) in seconds * 1_000_000 / Double(result.operations) }
        var cpu = String(format: "    CPU per operation: load generator %.0f µs", perOperation(result.clientCPU))
        metric("\(prefix)_client_cpu_per_op", perOperation(result.clientCPU), "us")
        if let server = result.serverCPU {
            cpu += String(format: ", server %.0f µs", perOperation(server))
            metric("\(prefix)_server_cpu_per_op", perOperation(server), "us")
        }
        print(cpu)
    }
}
