import Foundation
import Logging
import RippleStorage

/// Moves the replica's WAL into the database file on its own connection and thread, so the
/// applier never does it. SQLite's automatic checkpoint runs inside whichever COMMIT crosses the
/// WAL size limit and syncs the WAL and the database file there — a few milliseconds that every
/// commit queued behind that apply waited for. A passive checkpoint from another connection
/// runs beside the applier's transactions (it takes no write lock) and skips frames readers
/// still use; the applier restarts the WAL from the beginning at its next transaction once a
/// checkpoint has copied everything.
final class ReplicaCheckpointer: @unchecked Sendable {
    /// Between checkpoints. At 5,000 commits/s the WAL grows by about 15 MB in this time.
    static let interval: TimeInterval = 0.2

    // `database` belongs to the checkpointer's thread; `stopping`/`stopped` are guarded by
    // `condition`.
    private let database: Database
    private let logger: Logger
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false

    init(path: String, logger: Logger) throws {
        self.database = try Database(path: path)
        self.logger = logger
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = "ripple-checkpointer"
        thread.start()
    }

    /// Stops the thread after one last checkpoint.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: Self.interval)) }
            let last = stopping
            condition.unlock()
            do {
                try database.execute("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                logger.warning("replica WAL checkpoint failed", metadata: ["error": "\(error)"])
            }
            if last { break }
        }
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }
}
