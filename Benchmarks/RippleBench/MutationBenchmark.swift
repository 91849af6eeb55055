import CSQLite
import Foundation
import RippleBenchApp
import RippleEngine
import RippleValues
import Synchronization

/// `scripts/bench mutations`: insert-one-document mutations from many concurrent callers,
/// next to raw SQLite on the same disk in the same run — one fsync'd COMMIT per row, and all
/// rows in one transaction — and the two ratios, for each number of callers.
struct MutationBenchmark {
    let seconds: Double
    /// Ripple runs once per count, each on a fresh database, after the raw SQLite baselines.
    let callerCounts: [Int]

    static let app: App = {
        var functions = FunctionRegistry()
        functions.mutation("events:insert", args: ["seq": v.number(), "payload": v.string()]) { ctx, args in
            try ctx.db.insert("events", args.fields)
        }
        return App(schema: Schema([TableDefinition("events", ["seq": v.number(), "payload": v.string()])]), functions: functions)
    }()

    static let payload = String(repeating: "ripple-", count: 10)

    func run() async throws {
        let dir = NSTemporaryDirectory() + "ripple-bench-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let perRow = try rawSQLite(path: dir + "/raw-per-row.sqlite3", seconds: min(seconds, 5), rowsPerCommit: 1)
        print(String(format: "raw SQLite, one COMMIT per row (synchronous=FULL): %10.0f rows/s", perRow))
        let oneTransaction = try rawSQLite(path: dir + "/raw-one-tx.sqlite3", seconds: min(seconds, 5), rowsPerCommit: Int.max)
        print(String(format: "raw SQLite, all rows in one transaction:           %10.0f rows/s", oneTransaction))

        var rates: [Int: Double] = [:]
        for callers in callerCounts {
            rates[callers] = try await ripple(path: dir + "/ripple-\(callers).sqlite3", callers: callers)
            print(String(format: "ratio vs per-row COMMIT:      %6.1fx (target >= 20x at 64 callers)", rates[callers]! / perRow))
            print(String(format: "ratio vs one transaction:     %6.2fx (target >= 0.3x at 1,024 callers)", rates[callers]! / oneTransaction))
        }
        BenchReport.metric("sqlite_per_row_rate", perRow, "rows/s")
        BenchReport.metric("sqlite_one_txn_rate", oneTransaction, "rows/s")
        if let rate = rates[64] { BenchReport.bench("mutations_vs_sqlite_per_row", rate / perRow, "x", target: 20, atLeast: true) }
        if let rate = rates[1024] { BenchReport.bench("mutations_vs_sqlite_one_txn", rate / oneTransaction, "x", target: 0.3, atLeast: true) }
    }

    /// Ripple's insert rate from `callers` concurrent in-process callers on a fresh database.
    func ripple(path: String, callers: Int) async throws -> Double {
        let engine = try Engine.open(path: path, app: Self.app)
        let completed = Counter()
        let deadline = Date().addingTimeInterval(seconds)
        let start = Date()
        let cpuStart = Self.processCPUSeconds()
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
        engine.close()
        let cpu = Self.processCPUSeconds() - cpuStart
        let count = Double(completed.value.load(ordering: .relaxed))
        let rate = count / elapsed
        print(String(format: "Ripple mutations, %d concurrent callers:          %10.0f mutations/s (%.1f s)", callers, rate, elapsed))
        print(String(format: "Ripple CPU time, all threads:                     %10.1f us per mutation", cpu / count * 1e6))
        BenchReport.metric("ripple_in_process_\(callers)_callers_rate", rate, "mutations/s")
        BenchReport.metric("ripple_in_process_\(callers)_callers_cpu", cpu / count * 1e6, "us/mutation")
        return rate
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

/// A counter shared by the benchmark's callers.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
