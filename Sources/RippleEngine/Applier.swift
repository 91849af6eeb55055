import Foundation
import Logging
import RippleStorage
import RippleValues

/// A replica's serial executor: applies commits shipped from the writer, each batch in one
/// SQLite transaction together with the applied position (no double apply, no gap), then tells
/// the commit listeners — the same path the writer's committer feeds, so subscriptions on a
/// replica work exactly as on the writer.
final class Applier: @unchecked Sendable {
    // `store` and `catalogVersion` are touched only on `queue`; `waiters` and `listeners` are
    // guarded by `lock`.
    private let store: Store
    private let queue = DispatchQueue(label: "ripple-applier")
    private let lock = NSLock()
    private var listeners: [@Sendable (CommitGroup) -> Void] = []
    private var waiters: [(UInt64, CheckedContinuation<Void, Never>)] = []
    private var applied: UInt64
    private var currentCatalog: Catalog
    private let logger: Logger

    init(store: Store, logger: Logger) throws {
        self.store = store
        self.applied = try store.appliedTimestamp()
        self.currentCatalog = store.catalog
        self.logger = logger
    }

    /// The catalog as of the last applied commit.
    var catalog: Catalog {
        lock.lock()
        defer { lock.unlock() }
        return currentCatalog
    }

    var appliedTimestamp: UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return applied
    }

    func addListener(_ listener: @escaping @Sendable (CommitGroup) -> Void) {
        lock.lock()
        listeners.append(listener)
        lock.unlock()
    }

    /// Applies `commits` (strictly after the applied position, in order) durably.
    func apply(_ commits: [Commit]) async throws {
        guard !commits.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async { [self] in
                continuation.resume(with: Result { try applyOnQueue(commits) })
            }
        }
    }

    private func applyOnQueue(_ commits: [Commit]) throws {
        let current = try store.appliedTimestamp()
        guard let first = commits.first, first.ts > current else {
            throw ValueError("commit \(commits.first?.ts ?? 0) is not after the applied position \(current)")
        }
        var mutations: [CommittedMutation] = []
        do {
            try store.database.statement("BEGIN IMMEDIATE").run()
            var previous = current
            for commit in commits {
                guard commit.ts > previous else { throw ValueError("commits out of order at \(commit.ts)") }
                let changes = try store.apply(commit)
                mutations.append(CommittedMutation(ts: commit.ts, writes: WriteSet(changes)))
                previous = commit.ts
            }
            try store.database.statement("COMMIT").run()
        } catch {
            try? store.database.statement("ROLLBACK").run()
            try? store.reloadCatalog()
            throw error
        }
        let last = commits.last!.ts
        lock.lock()
        applied = last
        currentCatalog = store.catalog
        let listeners = self.listeners
        let ready = waiters.filter { $0.0 <= last }
        waiters.removeAll { $0.0 <= last }
        lock.unlock()
        let group = CommitGroup(mutations: mutations, appliedTimestamp: last)
        for listener in listeners { listener(group) }
        for (_, waiter) in ready { waiter.resume() }
    }

    /// Replaces the whole state with `snapshot` in one transaction, then tells the listeners
    /// that every document it removed or wrote changed, so subscriptions re-run.
    func install(_ snapshot: SnapshotCodec.Decoded) async throws -> UInt64 {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UInt64, any Error>) in
            queue.async { [self] in
                continuation.resume(with: Result { try installOnQueue(snapshot) })
            }
        }
    }

    private func installOnQueue(_ snapshot: SnapshotCodec.Decoded) throws -> UInt64 {
        let changes: [DocumentChange]
        do {
            try store.database.statement("BEGIN IMMEDIATE").run()
            changes = try store.installSnapshot(snapshot)
            try store.database.statement("COMMIT").run()
        } catch {
            try? store.database.statement("ROLLBACK").run()
            try? store.reloadCatalog()
            throw error
        }
        let ts = snapshot.ts
        lock.lock()
        applied = ts
        currentCatalog = store.catalog
        let listeners = self.listeners
        let ready = waiters.filter { $0.0 <= ts }
        waiters.removeAll { $0.0 <= ts }
        lock.unlock()
        logger.info("installed snapshot", metadata: ["ts": "\(ts)", "documents": "\(snapshot.documents.count)"])
        let group = CommitGroup(mutations: [CommittedMutation(ts: ts, writes: WriteSet(changes))], appliedTimestamp: ts)
        for listener in listeners { listener(group) }
        for (_, waiter) in ready { waiter.resume() }
        return ts
    }

    /// Suspends until this node has applied `ts`.
    func waitUntilApplied(_ ts: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if applied >= ts {
                lock.unlock()
                continuation.resume()
                return
            }
            waiters.append((ts, continuation))
            lock.unlock()
        }
    }
}
