import CSQLite
import Foundation
import Logging
import RippleBenchApp
import RippleEngine
import RippleLog
import RippleReplication
import RippleStorage
import RippleValues
import Synchronization

/// `scripts/bench replication`: a writer `Engine` and a replica `Engine` in one process, linked by
/// the real `ReplicationServer`/`ReplicationClient` over loopback.
///  1. Apply lag: insert mutations paced at `rate`/s for `seconds` from concurrent callers; for
///     each commit ts, the time from the writer's commit listener to the replica's.
///  2. Catch-up: the replica's client is stopped, `catchup` commits are written, the client is
///     restarted and the replica's apply rate measured until it reaches the writer's ts — next to
///     raw SQLite applying the same rows (documents + index entries + log row per commit, in
///     transactions of the replica's batch size) in the same run.
struct ReplicationBenchmark: Sendable {
    var rate = 5_000.0
    var seconds = 10.0
    var callers = 64
    var catchup = 1_000_000

    static let clusterID = "bench"
    static let secret = Array("ripple-bench-cluster-secret-0123456789".utf8)
    /// Commits per `commits` message = commits per replica transaction.
    static let batchCommits = ReplicationServer.Configuration().maxBatchCommits

    func run() async throws {
        let runStart = Date()
        let dir = NSTemporaryDirectory() + "ripple-bench-replication-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        var logger = Logger(label: "ripple.bench")
        logger.logLevel = .warning
        var writerOptions = EngineOptions()
        writerOptions.logger = logger
        let writer = try Engine.open(path: dir + "/writer.sqlite3", app: MutationBenchmark.app, options: writerOptions)
        var replicaOptions = EngineOptions()
        replicaOptions.logger = logger
        replicaOptions.role = .replica(forwarder: NoForwarder())
        let replica = try Engine.open(path: dir + "/replica.sqlite3", app: MutationBenchmark.app, options: replicaOptions)

        // Lag bookkeeping: when each ts became durable on the writer, and its lag on the replica.
        let lag = LagRecorder()
        writer.commitFeed.subscribe { group in lag.committed(group.mutations.map(\.ts)) }
        replica.commitFeed.subscribe { group in lag.applied(group.mutations.map(\.ts)) }

        let source = BenchCommitSource(engine: writer, lag: lag)
        let server = ReplicationServer(
            host: "127.0.0.1", port: 0, clusterID: Self.clusterID, secret: Self.secret, source: source, logger: logger)
        let serverTask = Task { try await server.run() }
        defer { serverTask.cancel() }
        let port = try await server.waitUntilBound()
        let applyTimes = Durations()
        func startClient() -> Task<Void, any Error> {
            let client = ReplicationClient(
                writerHost: "127.0.0.1", writerPort: port, clusterID: Self.clusterID, nodeID: "bench-replica",
                secret: Self.secret, sink: BenchCommitSink(engine: replica, applyTimes: applyTimes, lag: lag), logger: logger)
            return Task { try await client.run() }
        }

        // Warm-up (creates the table on the replica through the log) before measuring.
        var clientTask = startClient()
        _ = try await writer.mutation("events:insert", ["seq": .float64(-1), "payload": .string(MutationBenchmark.payload)])
        try await waitForReplica(replica, writer: writer, timeout: 30)
        lag.reset()
        applyTimes.reset()

        // 1. Apply lag at a steady rate.
        print(String(format: "apply lag: writer paced at %.0f commits/s for %.0f s, %d callers, one replica over loopback", rate, seconds, callers))
        let cpuStart = MutationBenchmark.processCPUSeconds()
        let paced = try await pacedInserts(writer)
        try await waitForReplica(replica, writer: writer, timeout: 60)
        let cpu = MutationBenchmark.processCPUSeconds() - cpuStart
        let samples = lag.samples()
        print(String(format: "  achieved:      %10.0f commits/s (%d commits, %.1f s; %d sent late >1 ms, worst %.1f ms behind schedule)",
                     Double(paced.count) / paced.elapsed, paced.count, paced.elapsed, paced.late, paced.worstBehind * 1e3))
        print(String(format: "  CPU (process): %10.1f us per commit (writer + replica + link)", cpu / Double(paced.count) * 1e6))
        if samples.isEmpty {
            print("  no lag samples")
        } else {
            let p50 = percentile(samples, 0.50), p99 = percentile(samples, 0.99), p999 = percentile(samples, 0.999)
            print(String(format: "  apply lag:     p50 %.2f ms, p99 %.2f ms (target <= 5 ms: %@), p99.9 %.2f ms, max %.2f ms, %d samples",
                         p50 * 1e3, p99 * 1e3, p99 <= 0.005 ? "met" : "MISSED", p999 * 1e3, samples.last! * 1e3, samples.count))
            let rateName = rate >= 1_000 && rate.truncatingRemainder(dividingBy: 1_000) == 0 ? "\(Int(rate / 1_000))k" : "\(Int(rate))"
            BenchReport.metric("replica_lag_p50_at_\(rateName)_per_s", p50 * 1e3, "ms")
            BenchReport.metric("replica_lag_p999_at_\(rateName)_per_s", p999 * 1e3, "ms")
            BenchReport.metric("replica_achieved_at_\(rateName)_per_s", Double(paced.count) / paced.elapsed, "commits/s")
            if rate == 10_000 {
                BenchReport.bench("replica_lag_p99_at_10k_per_s", p99 * 1e3, "ms", target: 5, atLeast: false)
            } else {
                BenchReport.metric("replica_lag_p99_at_\(rateName)_per_s", p99 * 1e3, "ms")
            }
            let over5 = samples.reduce(0) { $0 + ($1 > 0.005 ? 1 : 0) }
            print(String(format: "  over 5 ms:     %d samples (%.2f%%); replica groups applied: %d (%.1f commits per group)",
                         over5, Double(over5) * 100 / Double(samples.count), lag.replicaGroups(), Double(samples.count) / Double(max(1, lag.replicaGroups()))))
        }
        let applies = applyTimes.sorted()
        if !applies.isEmpty {
            print(String(format: "  replica apply (queued on the applier -> durable): p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d calls",
                         percentile(applies, 0.5) * 1e3, percentile(applies, 0.99) * 1e3, applies.last! * 1e3, applies.count))
        }
        let stages = lag.stagePercentiles()
        if stages.count == 3 {
            for (name, stage) in zip(["writer commit -> live tail / log read hands it on", "-> queued on the replica's applier (send, decode)", "-> replica commit listener (applier queue, apply)"], stages) {
                print(String(format: "    %-52@ p50 %6.2f ms, p99 %7.2f ms, max %7.2f ms", name as NSString, stage.p50 * 1e3, stage.p99 * 1e3, stage.max * 1e3))
            }
        }
        lag.stop()
        guard catchup > 0 else {
            clientTask.cancel()
            _ = try? await clientTask.value
            writer.close()
            replica.close()
            return
        }

        // 2. Catch-up after a restart `catchup` commits behind (`--catchup 0` skips it).
        clientTask.cancel()
        _ = try? await clientTask.value
        let before = try await writer.appliedTimestamp()
        let replicaBefore = try await replica.appliedTimestamp()
        print("catch-up: replica stopped at ts \(replicaBefore); writing \(catchup) commits on the writer...")
        let writeStart = Date()
        try await unpacedInserts(writer, count: catchup)
        let writeElapsed = Date().timeIntervalSince(writeStart)
        let target = try await writer.appliedTimestamp()
        print(String(format: "  written:       %10.0f commits/s through the engine (%d commits, %.1f s)", Double(catchup) / writeElapsed, catchup, writeElapsed))

        let catchStart = Date()
        clientTask = startClient()
        try await waitForReplica(replica, writer: writer, timeout: max(600, Double(catchup) / 1_000))
        let catchElapsed = Date().timeIntervalSince(catchStart)
        let caught = try await replica.appliedTimestamp()
        precondition(caught == target, "replica at \(caught), writer at \(target)")
        let catchRate = Double(catchup) / catchElapsed
        print(String(format: "  Ripple replica catch-up:  %10.0f commits/s (%d commits, %.1f s, from reconnect to applied ts == writer ts)", catchRate, catchup, catchElapsed))
        clientTask.cancel()
        _ = try? await clientTask.value
        serverTask.cancel()

        // Baseline: raw SQLite applying the same rows in the same batches.
        let raw = try await rawSQLiteApply(writer: writer, writerPath: dir + "/writer.sqlite3", after: before, path: dir + "/raw.sqlite3")
        let rawRate = Double(raw.commits) / raw.seconds
        print(String(format: "  raw SQLite, same rows:    %10.0f commits/s (%d commits, %d per transaction, WAL, synchronous=FULL, %.1f s)",
                     rawRate, raw.commits, Self.batchCommits, raw.seconds))
        print(String(format: "  ratio catch-up / raw SQLite: %.2fx", catchRate / rawRate))
        BenchReport.metric("catchup_rate", catchRate, "commits/s")
        BenchReport.metric("catchup_raw_sqlite_rate", rawRate, "commits/s")
        BenchReport.bench("catchup_vs_sqlite", catchRate / rawRate, "x", target: 0.8, atLeast: true)
        writer.close()
        replica.close()
        print(String(format: "total run time: %.0f s", Date().timeIntervalSince(runStart)))
    }

    // MARK: - Load

    /// Inserts scheduled at `rate`/s: ticket i is due at start + i/rate; callers take tickets in turn.
    func pacedInserts(_ writer: Engine) async throws -> (count: Int, elapsed: Double, late: Int, worstBehind: Double) {
        let total = Int(rate * seconds)
        let next = Counter(), late = Counter(), worstBehindNs = Counter()
        let callers = self.callers
        let clock = ContinuousClock()
        let start = clock.now
        let interval = Duration.nanoseconds(Int64(1e9 / rate))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    while true {
                        let i = next.value.wrappingAdd(1, ordering: .relaxed).oldValue
                        if i >= total { return }
                        let due = start + interval * i
                        try await clock.sleep(until: due, tolerance: .microseconds(50))
                        let behind = clock.now - due
                        if behind > .milliseconds(1) {
                            late.value.wrappingAdd(1, ordering: .relaxed)
                            let ns = Int(behind.components.seconds) * 1_000_000_000 + Int(behind.components.attoseconds / 1_000_000_000)
                            worstBehindNs.value.max(ns, ordering: .relaxed)
                        }
                        _ = try await writer.mutation("events:insert", ["seq": .float64(Double(i)), "payload": .string(MutationBenchmark.payload)])
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - start
        return (total, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                late.value.load(ordering: .relaxed), Double(worstBehindNs.value.load(ordering: .relaxed)) / 1e9)
    }

    func unpacedInserts(_ writer: Engine, count: Int) async throws {
        let next = Counter()
        let callers = self.callers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(callers, 256) {
                group.addTask {
                    while true {
                        let i = next.value.wrappingAdd(1, ordering: .relaxed).oldValue
                        if i >= count { return }
                        _ = try await writer.mutation("events:insert", ["seq": .float64(Double(i)), "payload": .string(MutationBenchmark.payload)])
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    func waitForReplica(_ replica: Engine, writer: Engine, timeout: Double) async throws {
        let target = try await writer.appliedTimestamp()
        let deadline = Date().addingTimeInterval(timeout)
        while try await replica.appliedTimestamp() < target {
            if Date() > deadline { throw BenchError("replica did not reach ts \(target) within \(Int(timeout)) s") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))]
    }

    // MARK: - Raw SQLite baseline

    /// Applies the writer's commits after `after` to a fresh database with the same tables, in
    /// transactions of `batchCommits`: per commit, its document rows, their index entries (keys
    /// for the writer's indexes) and its log row. Row bytes are prepared outside the timed part.
    func rawSQLiteApply(writer: Engine, writerPath: String, after: CommitTimestamp, path: String) async throws -> (commits: Int, seconds: Double) {
        let indexes = try Self.writerIndexes(path: writerPath)
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw BenchError("cannot open \(path)") }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
        }
        try exec(
            """
            PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
            CREATE TABLE documents(number INTEGER PRIMARY KEY, table_number INTEGER NOT NULL, id TEXT NOT NULL, ts INTEGER NOT NULL, value BLOB NOT NULL);
            CREATE TABLE index_entries(index_number INTEGER NOT NULL, key BLOB NOT NULL, document INTEGER NOT NULL, PRIMARY KEY(index_number, key)) WITHOUT ROWID;
            CREATE TABLE commit_log(ts INTEGER PRIMARY KEY, payload BLOB NOT NULL);
            """)
        func prepare(_ sql: String) throws -> OpaquePointer {
            var stmt: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
            return stmt
        }
        let insertDocument = try prepare("INSERT INTO documents(number, table_number, id, ts, value) VALUES (?1, ?2, ?3, ?4, ?5)")
        let insertIndex = try prepare("INSERT OR REPLACE INTO index_entries(index_number, key, document) VALUES (?1, ?2, ?3)")
        let insertLog = try prepare("INSERT INTO commit_log(ts, payload) VALUES (?1, ?2)")
        defer { for s in [insertDocument, insertIndex, insertLog] { sqlite3_finalize(s) } }
        func step(_ s: OpaquePointer) throws {
            guard sqlite3_step(s) == SQLITE_DONE else { throw BenchError(String(cString: sqlite3_errmsg(db))) }
            sqlite3_reset(s)
        }
        func bindBlob(_ s: OpaquePointer, _ i: Int32, _ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { sqlite3_bind_blob(s, i, $0.baseAddress, Int32($0.count), SQLITE_TRANSIENT_BENCH) }
        }

        struct Row {
            var ts: Int64
            var documents: [(table: UInt32, number: Int64, id: String, value: [UInt8], keys: [(Int64, [UInt8])])]
            var payload: [UInt8]
        }
        var position = after
        var commits = 0
        var timed = 0.0
        while true {
            let batch = try await writer.commits(after: position, limit: Self.batchCommits)
            if batch.isEmpty { break }
            position = batch.last!.ts
            let rows: [Row] = try batch.map { commit in
                var docs: [(UInt32, Int64, String, [UInt8], [(Int64, [UInt8])])] = []
                for write in commit.writes {
                    guard case .document(let table, let number, let id, let value?) = write else { continue }
                    let object = try ValueCodec.decode(value).objectValue ?? [:]
                    let keys = (indexes[table] ?? []).map { ($0.number, IndexKey.forDocument(object, fields: $0.fields).bytes) }
                    docs.append((table, number, id, value, keys))
                }
                return Row(ts: commit.ts.bitPattern, documents: docs, payload: CommitCodec.encode(commit.writes))
            }
            let start = DispatchTime.now().uptimeNanoseconds
            try exec("BEGIN IMMEDIATE")
            for row in rows {
                for doc in row.documents {
                    sqlite3_bind_int64(insertDocument, 1, doc.number)
                    sqlite3_bind_int64(insertDocument, 2, Int64(doc.table))
                    sqlite3_bind_text(insertDocument, 3, doc.id, -1, SQLITE_TRANSIENT_BENCH)
                    sqlite3_bind_int64(insertDocument, 4, row.ts)
                    bindBlob(insertDocument, 5, doc.value)
                    try step(insertDocument)
                    for (index, key) in doc.keys {
                        sqlite3_bind_int64(insertIndex, 1, index)
                        bindBlob(insertIndex, 2, key)
                        sqlite3_bind_int64(insertIndex, 3, doc.number)
                        try step(insertIndex)
                    }
                }
                sqlite3_bind_int64(insertLog, 1, row.ts)
                bindBlob(insertLog, 2, row.payload)
                try step(insertLog)
            }
            try exec("COMMIT")
            timed += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            commits += rows.count
        }
        return (commits, timed)
    }

    /// The writer's indexes by table number, read from its catalog table.
    static func writerIndexes(path: String) throws -> [UInt32: [(number: Int64, fields: [String])]] {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else { throw BenchError("cannot open \(path)") }
        defer { sqlite3_close(db) }
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, "SELECT number, table_number, fields FROM indexes_catalog", -1, &stmt, nil) == SQLITE_OK, let stmt else {
            throw BenchError(String(cString: sqlite3_errmsg(db)))
        }
        defer { sqlite3_finalize(stmt) }
        var out: [UInt32: [(number: Int64, fields: [String])]] = [:]
        while sqlite3_step(stmt) == SQLITE_ROW {
            let fields = String(cString: sqlite3_column_text(stmt, 2)).split(separator: "\u{1F}", omittingEmptySubsequences: true).map(String.init)
            out[UInt32(sqlite3_column_int64(stmt, 1)), default: []].append((sqlite3_column_int64(stmt, 0), fields))
        }
        return out
    }
}

let SQLITE_TRANSIENT_BENCH = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

// MARK: - Link glue (equivalents of the Ripple module's internal EngineCommitSource/Sink)

/// The writer's side: the engine's log and its commit feed, as `EngineCommitSource` reads them,
/// plus the lag breakdown's "handed on" stamp.
final class BenchCommitSource: CommitSource {
    let engine: Engine
    let lag: LagRecorder

    init(engine: Engine, lag: LagRecorder) {
        self.engine = engine
        self.lag = lag
    }

    /// The live tail: each durable group straight from the commit feed; a commit handed over
    /// here counts as "read" for the lag breakdown.
    func followCommits(_ deliver: @escaping @Sendable ([Commit]) -> Void) -> (@Sendable () -> Void)? {
        let lag = self.lag
        let subscription = engine.commitFeed.subscribe { group in
            let commits = group.mutations.map { Commit(ts: $0.ts, term: $0.term, writes: $0.logWrites) }
            lag.fetched(commits.map(\.ts))
            deliver(commits)
        }
        return { subscription.cancel() }
    }

    func latestTimestamp() async throws -> CommitTimestamp { try await engine.appliedTimestamp() }
    func commits(after ts: CommitTimestamp, limit: Int) async throws -> [Commit] {
        let commits = try await engine.commits(after: ts, limit: limit)
        if !commits.isEmpty { lag.fetched(commits.map(\.ts)) }
        return commits
    }

    /// Returns once a commit after `ts` is applied, or after a second (the heartbeat interval):
    /// the engine's applied watermark, as the server's own source waits on it.
    func waitForCommit(after ts: CommitTimestamp) async {
        _ = await engine.waitUntilApplied(ts.next, timeout: .seconds(1))
    }

    func handleForward(_ payload: [UInt8]) async -> [UInt8] {
        ForwardedOutcome.failed(FunctionError(.invalidUse, "the benchmark forwards nothing")).encoded
    }

    func replicaAcknowledged(nodeID: String, appliedTimestamp: CommitTimestamp) {}
}

/// The replica's side: shipped commits go into the engine's applier.
/// Also times each batch from queued on the applier to durable, for the lag breakdown.
struct BenchCommitSink: CommitSink {
    let engine: Engine
    let applyTimes: Durations
    let lag: LagRecorder
    func appliedTimestamp() async throws -> CommitTimestamp { try await engine.appliedTimestamp() }
    func apply(
        _ commits: [Commit], following previousTimestamp: CommitTimestamp, completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void
    ) {
        lag.applyStarted(commits.map(\.ts))
        let start = DispatchTime.now().uptimeNanoseconds
        let applyTimes = self.applyTimes
        engine.apply(commits, following: previousTimestamp) { result in
            applyTimes.add(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            completion(result)
        }
    }
}

final class Durations: Sendable {
    private let values = Mutex<[Double]>([])
    func add(_ value: Double) { values.withLock { $0.append(value) } }
    func reset() { values.withLock { $0 = [] } }
    func sorted() -> [Double] { values.withLock { $0 }.sorted() }
}

struct NoForwarder: MutationForwarder {
    func forward(_ call: ForwardedCall) async -> ForwardedOutcome {
        .failed(FunctionError(.unavailable, "the benchmark's replica forwards nothing"))
    }
}

/// Commit times on the writer and apply lags on the replica, per ts (monotonic clock).
final class LagRecorder: Sendable {
    private struct State {
        var committedAt: [CommitTimestamp: UInt64] = [:]
        var fetchedAt: [CommitTimestamp: UInt64] = [:]
        var applyStartedAt: [CommitTimestamp: UInt64] = [:]
        /// Per commit: writer commit -> handed on by the live tail or read from the log; -> queued on the
        /// replica's applier; -> applied.
        var stages: [(Double, Double, Double)] = []
        var lags: [Double] = []
        var groups = 0
        var active = true
    }
    private let state = Mutex(State())

    func committed(_ timestamps: [CommitTimestamp]) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { state in
            guard state.active else { return }
            for ts in timestamps { state.committedAt[ts] = now }
        }
    }

    func fetched(_ timestamps: [CommitTimestamp]) { stamp(timestamps, \.fetchedAt) }
    func applyStarted(_ timestamps: [CommitTimestamp]) { stamp(timestamps, \.applyStartedAt) }

    private func stamp(_ timestamps: [CommitTimestamp], _ key: WritableKeyPath<State, [CommitTimestamp: UInt64]>) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { state in
            guard state.active else { return }
            for ts in timestamps where state[keyPath: key][ts] == nil { state[keyPath: key][ts] = now }
        }
    }

    func applied(_ timestamps: [CommitTimestamp]) {
        let now = DispatchTime.now().uptimeNanoseconds
        state.withLock { state in
            guard state.active else { return }
            state.groups += 1
            for ts in timestamps {
                guard let at = state.committedAt.removeValue(forKey: ts) else { continue }
                state.lags.append(Double(now &- at) / 1e9)
                if let fetched = state.fetchedAt.removeValue(forKey: ts), let started = state.applyStartedAt.removeValue(forKey: ts) {
                    // The server can read a commit before the writer's listener runs: signed, and such a
                    // stage counts as 0.
                    func span(_ from: UInt64, _ to: UInt64) -> Double { max(0, Double(Int64(bitPattern: to &- from)) / 1e9) }
                    state.stages.append((span(at, fetched), span(fetched, started), span(started, now)))
                }
            }
        }
    }

    /// p50/p99 of each stage, sorted separately.
    func stagePercentiles() -> [(p50: Double, p99: Double, max: Double)] {
        let stages = state.withLock { $0.stages }
        guard !stages.isEmpty else { return [] }
        return [stages.map(\.0), stages.map(\.1), stages.map(\.2)].map { values in
            let sorted = values.sorted()
            return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)], sorted.last!)
        }
    }

    func reset() { state.withLock { $0 = State() } }
    func stop() { state.withLock { $0.active = false; $0.committedAt = [:]; $0.fetchedAt = [:]; $0.applyStartedAt = [:] } }
    func samples() -> [Double] { state.withLock { $0.lags }.sorted() }
    func replicaGroups() -> Int { state.withLock { $0.groups } }
}
