/// A task that did not finish in time; its description names what the test waited for.
public struct TaskTimedOut: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Duration

    public var description: String { "timed out after \(timeout) waiting until \(what)" }
}

/// The result of `task`, or `TaskTimedOut` naming `what` after `timeout` (the task is then
/// cancelled and left behind). Awaiting an unstructured task's `value` or `result` ignores the
/// waiter's cancellation, so a task that never ends would hold the test past its suite's
/// `.timeLimit` — a CI run hung silently for its whole budget that way. This wait ends in any
/// case, and fails saying what never happened.
public func boundedResult<Success: Sendable, Failure: Error>(
    of task: Task<Success, Failure>, _ what: String, timeout: Duration = .seconds(60)
) async throws -> Result<Success, Failure> {
    // Both report to one stream and the first report wins: the waiter is never resumed twice.
    let (outcomes, report) = AsyncStream<Result<Success, Failure>?>.makeStream()
    let awaited = Task { report.yield(await task.result) }
    let timer = Task {
        try? await Task.sleep(for: timeout)
        report.yield(nil)
    }
    defer {
        awaited.cancel()
        timer.cancel()
        report.finish()
    }
    var iterator = outcomes.makeAsyncIterator()
    switch await iterator.next() {
    case .some(.some(let result)):
        return result
    case .some(.none):
        task.cancel()
        throw TaskTimedOut(what: what, timeout: timeout)
    case .none:
        throw CancellationError()
    }
}

/// The value of `task`, or `TaskTimedOut` naming `what` after `timeout` (`boundedResult(of:)`).
public func boundedValue<Success: Sendable, Failure: Error>(
    of task: Task<Success, Failure>, _ what: String, timeout: Duration = .seconds(60)
) async throws -> Success {
    try await boundedResult(of: task, what, timeout: timeout).get()
}

/// Runs `operation` in a task of its own and waits for it at most `timeout` (`boundedResult(of:)`):
/// for a stop or shutdown that may wait on something outside the test (a server's connections,
/// an event loop) and ignores the test's cancellation.
public func bounded<Success: Sendable>(
    _ what: String, timeout: Duration = .seconds(60), _ operation: @escaping @Sendable () async throws -> Success
) async throws -> Success {
    try await boundedValue(of: Task { try await operation() }, what, timeout: timeout)
}
