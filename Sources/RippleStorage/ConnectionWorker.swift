import Foundation

/// A named thread that owns one SQLite connection, and the queue of work for it. SQLite calls
/// block, so each connection that writes (the committer's, the applier's, the checkpointer's)
/// belongs to one thread of its own rather than to the concurrency pool; this type is that
/// thread's queue, written once: submit from anywhere, take a batch on the thread, and on stop
/// let the thread drain what was queued before joining it.
///
/// The owner runs its loop in the closure given to `start`, calling `next` until it returns nil.
public final class ConnectionWorker<Work>: @unchecked Sendable {
    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var pending: [Work] = []
    private var started = false
    private var stopping = false
    private var finished = false
    private let name: String

    /// `name` names the thread (what a debugger or `top -H` shows).
    public init(name: String) {
        self.name = name
    }

    /// Starts the thread running `loop`; later calls do nothing.
    public func start(_ loop: @escaping @Sendable () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [self] in
            Self.nameCurrentThread(name)
            loop()
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.name = name
        thread.start()
    }

    /// Gives the running thread its name where the kernel shows it (`top -H`, `perf`, /proc):
    /// on Linux, Foundation's `Thread.name` does not reach the kernel, so every worker showed up
    /// as the dispatch thread that started it.
    private static func nameCurrentThread(_ name: String) {
        #if os(Linux)
        // The kernel keeps 15 bytes and refuses longer names. (`pthread_setname_np` is not
        // visible to Swift here; the thread's own comm file is the same call.)
        try? String(decoding: name.utf8.prefix(15), as: UTF8.self).write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        #endif
    }

    /// Queues `work` for the thread; false once stopping, when the caller must fail it itself.
    public func submit(_ work: Work) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        pending.append(work)
        condition.signal()
        return true
    }

    /// On the worker's thread: takes up to `limit` queued items, oldest first, waiting for one
    /// until `deadline` (or as long as it takes without one). Returns an empty batch when the
    /// deadline passes first, and nil once stopping with nothing queued: the loop should end.
    public func next(upTo limit: Int = .max, until deadline: Date? = nil) -> [Work]? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && !stopping {
            if let deadline {
                if !condition.wait(until: deadline) { break }
            } else {
                condition.wait()
            }
        }
        if pending.isEmpty { return stopping ? nil : [] }
        let count = min(pending.count, limit)
        let taken = Array(pending.prefix(count))
        pending.removeFirst(count)
        return taken
    }

    /// How many items wait to be taken: for tests that must know work is queued before they
    /// let the thread go on.
    public var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    /// Refuses new work, lets the thread finish what is queued, and returns once its loop has
    /// ended (at once if it never started).
    public func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        while started && !finished { condition.wait() }
    }

    /// Refuses new work and lets the thread finish what is queued and end, without waiting for
    /// it: for an owner that goes away on whatever thread drops it last — possibly the worker's
    /// own, where `stop` would wait for itself.
    public func finish() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
    }
}

extension ConnectionWorker where Work == @Sendable () -> Void {
    /// Starts the thread running each submitted closure in turn, for an owner whose work is just
    /// "run this on the connection's thread" (a reader, the log pruner). The thread holds only
    /// the worker, so the owner can `finish` it from its `deinit`.
    public func startRunningSubmittedWork() {
        start { [self] in
            while let batch = next() {
                for work in batch { work() }
            }
        }
    }
}
