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

    // `database` belongs to the worker's thread, which takes no work: `next` only paces it and
    // says when to stop.
    private let database: Database
    private let logger: Logger
    private let worker = ConnectionWorker<Never>(name: "ripple-checkpointer")

    init(path: String, logger: Logger) throws {
        self.database = try Database(path: path)
        self.logger = logger
    }

    func start() {
        worker.start { [self] in
            var running = true
            while running {
                running = worker.next(until: Date(timeIntervalSinceNow: Self.interval)) != nil
                do {
                    try database.checkpoint()
                } catch {
                    logger.warning("replica WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Stops the thread after one last checkpoint.
    func stop() {
        worker.stop()
    }
}
