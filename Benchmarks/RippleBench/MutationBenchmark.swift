import CSQLite
import Foundation
import RippleBenchApp
import RippleEngine
import RippleValues
import Synchronization

/// `scripts/bench mutations`: insert-one-document mutations from many concurrent callers,
/// next to raw SQLite on the same disk — one fsync'd COMMIT per row, and all rows in one
/// transaction — and the two ratios, for each number of callers.
///
/// The per-row baseline is one fsync per row, so it follows the shared disk's fsync latency,
/// which moves severalfold within minutes; a ratio taken against a baseline measured minutes
/// away measured the disk more than Ripple. So the run is `rounds` short rounds, each running
/// both baselines and then Ripple at every caller count, and each ratio is the median of its
/// per-round ratios; every round also prints its fsync latency (the per-row COMMIT's duration).
struct MutationBenchmark {
    /// Ripple's time per caller count over the whole run, split evenly between the rounds.
    let seconds: Double
    /// Ripple runs once per count and round, each on a fresh database, after that round's baselines.
    let callerCounts: [Int]
    var rounds = 5

    static let app: App = {
        var functions = FunctionRegistry()
        functions.mutation("events:insert", args: ["seq": v.number(), "payload": v.string()]) { ctx, args in
            try ctx.db.insert("events", args.fields)
        }
        return App(schema: Schema([TableDefinition("events", ["seq": v.number(), "payload": v.string()])]), functions: functions)
    }()

    static let payload = String(repeating: "ripple-", count: 10)

    /// What one Ripple phase measured.
    struct RipplePhase {
        var mutations = 0
        var seconds = 0.0
        var cpuSeconds = 0.0
        var committerCPUSeconds = 0.0
        var rate: Double { Double(mutations) / seconds }
    }

    func run() async throws {
        let dir = NSTemporaryDirectory() + "ripple-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let baselineSeconds = max(0.5, min(seconds / Double(rounds), 1))
        let rippleSeconds = max(0.5, seconds / Double(rounds))
        var perRowRates: [Double] = []
        var oneTransactionRates: [Double] = []
        var ratiosPerRow: [Int: [Double]] = [:]
        var ratiosOneTransaction: [Int: [Double]] = [:]
        var totals: [Int: RipplePhase] = [:]
        for round in 1...rounds {
            let perRow = try rawSQLite(path: dir + "/raw-per-row-\(round).sqlite3", seconds: baselineSeconds, rowsPerCommit: 1)
            let oneTransaction = try rawSQLite(path: dir + "/raw-one-tx-\(round).sqlite3", seconds: baselineSeconds, rowsPerCommit: Int.max)
            perRowRates.append(perRow)
            oneTransactionRates.append(oneTransaction)
            print(String(format: "round %d: raw SQLite one COMMIT per row (synchronous=FULL) %.0f rows/s (%.3f ms per fsync'd COMMIT), all rows in one transaction %.0f rows/s",
                         round, perRow, 1000 / perRow, oneTransaction))
            for callers in callerCounts {
                let phase = try await ripple(path: dir + "/ripple-\(callers)-\(round).sqlite3", callers: callers, seconds: rippleSeconds)
                ratiosPerRow[callers, default: []].append(phase.rate / perRow)
                ratiosOneTransaction[callers, default: []].append(phase.rate / oneTransaction)
                totals[callers, default: RipplePhase()].add(phase)
                print(String(format: "round %d: Ripple, %d callers: %.0f mutations/s, %.1fx per-row, %.3fx one transaction; CPU %.1f us per mutation (committer thread %.1f us)",
                             round, callers, phase.rate, phase.rate / perRow, phase.rate / oneTransaction,
                             phase.cpuSeconds / Double(phase.mutations) * 1e6, phase.committerCPUSeconds / Double(phase.mutations) * 1e6))
            }
        }
        print(String(format: "raw SQLite, one COMMIT per row (synchronous=FULL): %10.0f rows/s (median of %d rounds)", median(perRowRates), rounds))
        print(String(format: "raw SQLite, all rows in one transaction:           %10.0f rows/s", median(oneTransactionRates)))
        BenchReport.metric("sqlite_per_row_rate", median(perRowRates), "rows/s")
        BenchReport.metric("sqlite_per_row_commit_ms", 1000 / median(perRowRates), "ms")
        BenchReport.metric("sqlite_one_txn_rate", median(oneTransactionRates), "rows/s")
        for callers in callerCounts {
            let total = totals[callers]!
            let cpu = total.cpuSeconds / Double(total.mutations) * 1e6
            let committerCPU = total.committerCPUSeconds / Double(total.mutations) * 1e6
            print(String(format: "Ripple mutations, %d concurrent callers:          %10.0f mutations/s (%.1f s)", callers, total.rate, total.seconds))
            print(String(format: "Ripple CPU time, all threads:                     %10.1f us per mutation", cpu))
            print(String(format: "Ripple CPU time, committer thread:                %10.1f us per mutation", committerCPU))
            print(String(format: "ratio vs per-row COMMIT:      %6.1fx (median of rounds; target >= 20x at 64 callers)", median(ratiosPerRow[callers]!)))
            print(String(format: "ratio vs one transaction:     %6.2fx (median of rounds; target >= 0.3x at 1,024 callers)", median(ratiosOneTransaction[callers]!)))
            BenchReport.metric("ripple_in_process_\(callers)_callers_rate", total.rate, "mutations/s")
            BenchReport.metric("ripple_in_process_\(callers)_callers_cpu", cpu, "us/mutation")
            BenchReport.metric("ripple_in_process_\(callers)_callers_committer_cpu", committerCPU, "us/mutation")
        }
        if let ratios = ratiosPerRow[64] { BenchReport.bench("mutations_vs_sqlite_per_row", median(ratios), "x", target: 20, atLeast: true) }
        if let ratios = ratiosOneTransaction[1024] { BenchReport.bench("mutations_vs_sqlite_one_txn", median(ratios), "x", target: 0.3, atLeast: true) }
    }

    func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Ripple's inserts from `callers` concurrent in-process callers on a fresh database for `seconds`.
    func ripple(path: String, callers: Int, seconds: Double) async throws -> RipplePhase {
        let engine = try Engine.open(path: path, app: Self.app)
        let completed = Counter()
        let deadline = Date().addingTimeInterval(seconds)
        let start = Date()
        let cpuStart = Self.processCPUSeconds()
        let committerStart = Self.threadCPUSeconds(named: "ripple-committer")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<callers {
                group.addTask {
                    var seq = caller
                    while Date() < deadline {
                        _ = try await engine.mutation("events:insert", ["seq": .float64(Double(seq)), "payload": .string(Self.payload)])
                        completed.value.add(1, ordering: .relaxed)
                        seq += callers
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = Date().timeIntervalSince(start)
        let committerCPU = Self.threadCPUSeconds(named: "ripple-committer") - committerStart
        engine.close()
        let cpu = Self.processCPUSeconds() - cpuStart
        return RipplePhase(mutations: completed.value.load(ordering: .relaxed), seconds: elapsed, cpuSeconds: cpu, committerCPUSeconds: committerCPU)
    }

    /// User plus system CPU time of this process's live threads whose name starts with `name`
    /// (Linux truncates thread names to 15 bytes), from /proc; 0 where there is no /proc.
    static func threadCPUSeconds(named name: String) -> Double {
        let tasks = "/proc/self/task"
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: tasks) else { return 0 }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = 0.0
        for thread in threads {
            guard let comm = (try? String(contentsOfFile: "\(tasks)/\(thread)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
                comm == name || (comm.utf8.count == 15 && name.hasPrefix(comm)),
                let stat = try? String(contentsOfFile: "\(tasks)/\(thread)/stat", encoding: .utf8),
                let afterName = stat.lastIndex(of: ")")
            else { continue }
            // After the name: state is field 3, utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: afterName)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            total += (user + system) / ticksPerSecond
        }
        return total
    }

    /// User plus system CPU time of the whole process so far: what a mutation costs regardless of
    /// how much of the machine other processes take.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Inserts rows of a similar size for about `seconds`, committing every `rowsPerCommit` rows.
    func rawSQLite(path: String, seconds: Double, rowsPerCommit: Int) throws -> Double {
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw BenchError("cannot open \(path)") }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
        }
        try exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE rows(id INTEGER PRIMARY KEY, seq REAL, value BLOB)")
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, "INSERT INTO rows(seq, value) VALUES (?1, ?2)", -1, &stmt, nil) == SQLITE_OK else {
            throw BenchError(String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(stmt) }
        let value = Array(ValueCodec.encode(["seq": 1, "payload": .string(Self.payload), "_id": "k3d7m2x9q8w4e6r5t1y0u2i3o4p5a6s", "_creationTime": 1.5]))
        let start = Date()
        let deadline = start.addingTimeInterval(seconds)
        var rows = 0
        var inTransaction = false
        while true {
            if !inTransaction {
                try exec("BEGIN")
                inTransaction = true
            }
            sqlite3_bind_double(stmt, 1, Double(rows))
            _ = value.withUnsafeBytes { sqlite3_bind_blob(stmt, 2, $0.baseAddress, Int32($0.count), nil) }
            guard sqlite3_step(stmt) == SQLITE_DONE else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
            sqlite3_reset(stmt)
            rows += 1
            let timeUp = rows % 1024 == 0 && Date() >= deadline
            if rows % rowsPerCommit == 0 || timeUp || (rowsPerCommit == 1 && Date() >= deadline) {
                try exec("COMMIT")
                inTransaction = false
                if timeUp || Date() >= deadline { break }
            }
        }
        if inTransaction { try exec("COMMIT") }
        return Double(rows) / Date().timeIntervalSince(start)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension MutationBenchmark.RipplePhase {
    mutating func add(_ other: Self) {
        mutations += other.mutations
        seconds += other.seconds
        cpuSeconds += other.cpuSeconds
        committerCPUSeconds += other.committerCPUSeconds
    }
}

/// A counter shared by the benchmark's callers.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
