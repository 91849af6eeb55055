import Foundation
import RippleLog
import RippleStorage
import Synchronization

/// One read connection and the thread that is its only user: SQLite calls block, so reads run
/// on a `ConnectionWorker` thread of their own rather than on the concurrency pool.
final class Reader: @unchecked Sendable {
    // `store` is touched only on the worker's thread, which is what makes this class safe to share.
    let store: Store
    private let worker: ConnectionWorker<@Sendable () -> Void>

    init(path: String, number: Int) throws {
        store = try Store(database: Database(path: path))
        worker = ConnectionWorker(name: "ripple-reader-\(number)")
        worker.startRunningSubmittedWork()
    }

    deinit {
        worker.finish()
    }

    private func read<T>(_ body: (Store, CommitTimestamp) throws -> T) throws -> T {
        try store.readSnapshot { ts in try body(store, ts) }
    }

    /// Runs `body` inside one read transaction, so every read sees a single commit's state;
    /// `ts` is the applied timestamp that the snapshot belongs to.
    func snapshot<T: Sendable>(_ body: @escaping @Sendable (Store, _ ts: CommitTimestamp) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let queued = worker.submit { [self] in
                continuation.resume(with: Result { try read(body) })
            }
            if !queued { continuation.resume(throwing: FunctionError(.unavailable, "The node is shutting down; retry the query")) }
        }
    }
}

/// A fixed set of read connections (WAL lets them read while the writer commits). A query
/// waits for a free one.
///
/// Replication's log reads have a connection of their own (`withReplicationReader`): a flood of
/// queries or update rounds must not stall log shipping, nor a replica's catch-up the queries.
final class ReaderPool: Sendable {
    private struct State {
        var free: [Reader]
        var waiters: [CheckedContinuation<Reader, Never>] = []
    }

    private let state: Mutex<State>
    private let replicationReader: Reader

    init(path: String, count: Int) throws {
        var readers: [Reader] = []
        for i in 0..<count { readers.append(try Reader(path: path, number: i)) }
        state = Mutex(State(free: readers))
        replicationReader = try Reader(path: path, number: count)
    }

    /// Runs `body` on the replication link's reader (in one read transaction, as `withReader`);
    /// concurrent calls take turns on it.
    func withReplicationReader<T: Sendable>(_ body: @escaping @Sendable (Store, CommitTimestamp) throws -> T) async throws -> T {
        try await replicationReader.snapshot(body)
    }

    func withReader<T: Sendable>(_ body: @escaping @Sendable (Store, CommitTimestamp) throws -> T) async throws -> T {
        let reader = await acquire()
        defer { release(reader) }
        return try await reader.snapshot(body)
    }

    private func acquire() async -> Reader {
        if let reader = state.withLock({ $0.free.popLast() }) { return reader }
        return await withCheckedContinuation { continuation in
            let reader: Reader? = state.withLock { state in
                if let reader = state.free.popLast() { return reader }
                state.waiters.append(continuation)
                return nil
            }
            if let reader { continuation.resume(returning: reader) }
        }
    }

    private func release(_ reader: Reader) {
        let waiter: CheckedContinuation<Reader, Never>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.free.append(reader)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: reader)
    }
}
