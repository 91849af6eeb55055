import Synchronization

/// The actions running on a node. An action may wait on the network for minutes; at shutdown
/// the node cancels them all (their fetches fail with cancellation) instead of waiting.
final class RunningActions: Sendable {
    private struct State {
        var next = 0
        var tasks: [Int: @Sendable () -> Void] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    /// Tracks `task`; returns the key to `remove` it by. After `cancelAll` new tasks are
    /// cancelled at once.
    func insert<R: Sendable>(_ task: Task<R, any Error>) -> Int {
        let (id, closed) = state.withLock { state in
            state.next += 1
            if !state.closed { state.tasks[state.next] = { task.cancel() } }
            return (state.next, state.closed)
        }
        if closed { task.cancel() }
        return id
    }

    func remove(_ id: Int) {
        _ = state.withLock { $0.tasks.removeValue(forKey: id) }
    }

    /// Cancels every running action, and every one started from now on.
    func cancelAll() {
        let cancels = state.withLock { state in
            state.closed = true
            defer { state.tasks = [:] }
            return Array(state.tasks.values)
        }
        for cancel in cancels { cancel() }
    }

    var count: Int { state.withLock { $0.tasks.count } }
}
