import Foundation
import RippleEngine
import RippleValues

// Ripple's benchmarks. `scripts/bench` runs these in release mode:
//   RippleBench mutations [seconds] [callers...] [--rounds N]
//                                               group-commit throughput vs raw SQLite, per caller count
//   RippleBench replication [--rate R] [--seconds S] [--callers C] [--catchup N]
//                                               replica apply lag and catch-up vs raw SQLite
//   RippleBench scheduler [samples] [jobs] [mutation slots]
//                                               scheduled-job start latency and throughput vs direct calls

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "mutations":
    var positional = Array(arguments.dropFirst())
    var rounds = 5
    if let flag = positional.firstIndex(of: "--rounds") {
        guard flag + 1 < positional.count, let value = Int(positional[flag + 1]), value > 0 else {
            FileHandle.standardError.write("usage: RippleBench mutations [seconds] [callers...] [--rounds N]\n".data(using: .utf8)!)
            exit(2)
        }
        rounds = value
        positional.removeSubrange(flag...(flag + 1))
    }
    let seconds = positional.first.flatMap(Double.init) ?? 10
    let callerCounts = positional.dropFirst().compactMap { Int($0) }.filter { $0 > 0 }
    var benchmark = MutationBenchmark(seconds: seconds, callerCounts: callerCounts.isEmpty ? [64] : callerCounts)
    benchmark.rounds = rounds
    try await benchmark.run()
case "replication":
    var benchmark = ReplicationBenchmark()
    var rest = arguments.dropFirst()
    while let flag = rest.popFirst() {
        guard let value = rest.popFirst().flatMap(Double.init) else {
            FileHandle.standardError.write("usage: RippleBench replication [--rate R] [--seconds S] [--callers C] [--catchup N]\n".data(using: .utf8)!)
            exit(2)
        }
        switch flag {
        case "--rate": benchmark.rate = value
        case "--seconds": benchmark.seconds = value
        case "--callers": benchmark.callers = Int(value)
        case "--catchup": benchmark.catchup = Int(value)
        default:
            FileHandle.standardError.write("unknown option \(flag)\n".data(using: .utf8)!)
            exit(2)
        }
    }
    try await benchmark.run()
case "scheduler":
    var benchmark = SchedulerBenchmark()
    if arguments.count > 1, let samples = Int(arguments[1]) { benchmark.samples = samples }
    if arguments.count > 2, let count = Int(arguments[2]) { benchmark.count = count }
    if arguments.count > 3, let slots = Int(arguments[3]), slots > 0 { benchmark.mutationSlots = slots }
    try await benchmark.run()
default:
    FileHandle.standardError.write("usage: RippleBench mutations [seconds] [callers...] [--rounds N] | replication [options] | scheduler [samples] [jobs] [mutation slots]\n".data(using: .utf8)!)
    exit(2)
}
