import Synchronization

/// Whether the writer's committer stopped for good (a failed COMMIT, a lapsed leadership with a
/// group left unpublished), and the tasks waiting for it. A stopped committer refuses every
/// write until the node restarts, so a failover writer watches this and steps down: the next
/// writer takes the writes it can no longer take.
final class WritesStopped: Sendable {
    private struct State {
        var reason: FunctionError?
        var waiters: [Int: CheckedContinuation<FunctionError?, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// Why the committer stopped; nil while it runs.
    var reason: FunctionError? { state.withLock { $0.reason } }

    /// Records that the committer stopped (the first reason is kept) and wakes every waiter.
    func stop(_ reason: FunctionError) {
        let waiters: [CheckedContinuation<FunctionError?, Never>] = state.withLock { state in
            guard state.reason == nil else { return [] }
            state.reason = reason
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: reason) }
    }

    /// Returns why the committer stopped, once it has; nil when the waiting task is cancelled first.
    func wait() async -> FunctionError? {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<FunctionError?, Never>) in
                // `Task.isCancelled` is set before the cancellation handler takes the lock, so
                // checking it under the lock loses no cancellation.
                let now: FunctionError?? = state.withLock { state in
                    if let reason = state.reason { return .some(reason) }
                    if Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return .none
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }
}
