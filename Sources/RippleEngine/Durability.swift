import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The newest commit on the writer that is on disk, and the readers waiting for it.
///
/// The writer's COMMIT returns before its WAL frames are synced (`Committer`): for a moment a
/// read transaction can see a commit that a power loss would take back. Nothing leaves the node
/// until it is durable — a mutation's reply, a commit listener (subscriptions, replication's
/// live tail), and, through `ReaderPool`, every read's answer: a read whose snapshot is newer
/// than this waits (a sync, well under a millisecond) before it returns.
final class DurableWatermark: Sendable {
    private struct State {
        var durable: UInt64
        var waiters: [(ts: UInt64, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state: Mutex<State>

    init(durable: UInt64) {
        state = Mutex(State(durable: durable))
    }

    var durable: UInt64 { state.withLock { $0.durable } }

    /// How many reads wait for a sync (tests).
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Called by the committer's syncer once everything through `ts` is on disk.
    func advance(to ts: UInt64) {
        let ready: [CheckedContinuation<Void, Never>] = state.withLock { state in
            guard ts > state.durable else { return [] }
            state.durable = ts
            guard !state.waiters.isEmpty else { return [] }
            let ready = state.waiters.filter { $0.ts <= ts }.map(\.continuation)
            state.waiters.removeAll { $0.ts <= ts }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// Returns once `ts` is durable.
    func wait(until ts: UInt64) async {
        if state.withLock({ $0.durable >= ts }) { return }
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.durable >= ts { return true }
                state.waiters.append((ts, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// The writer's WAL file, synced from the committer's syncer thread while the committer goes on
/// writing. `fdatasync` flushes a file, not a descriptor, so a descriptor of our own covers
/// every frame SQLite's connection wrote before the call. The descriptor is reopened if the file
/// was replaced (SQLite deletes the WAL only when the last connection closes).
struct WALFile {
    let path: String
    private var descriptor: Int32 = -1
    private var inode: UInt64 = 0

    init(databasePath: String) {
        path = databasePath + "-wal"
    }

    /// Makes every frame written so far durable. Throws if the system cannot say it did; the
    /// caller must not then treat anything as durable.
    mutating func sync() throws {
        var current = stat()
        guard stat(path, &current) == 0 else {
            // No WAL file: nothing was written since the last connection closed.
            if errno == ENOENT { return }
            throw WALSyncError(path: path, operation: "stat", code: errno)
        }
        if descriptor < 0 || UInt64(current.st_ino) != inode {
            if descriptor >= 0 { _ = Glibc.close(descriptor) }
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw WALSyncError(path: path, operation: "open", code: errno) }
            inode = UInt64(current.st_ino)
            // A new file's name must be durable too.
            try Self.syncDirectory(of: path)
        }
        guard fdatasync(descriptor) == 0 else { throw WALSyncError(path: path, operation: "fdatasync", code: errno) }
    }

    mutating func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    private static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WALSyncError(path: directory, operation: "open", code: errno) }
        defer { _ = Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw WALSyncError(path: directory, operation: "fsync", code: errno) }
    }
}

struct WALSyncError: Error, CustomStringConvertible {
    let path: String
    let operation: String
    let code: Int32

    var description: String { "\(operation) of \(path) failed: \(String(cString: strerror(code)))" }
}
