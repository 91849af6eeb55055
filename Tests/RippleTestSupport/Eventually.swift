/// A condition that did not come true in time; its description names what the test waited for.
public struct ConditionTimedOut: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Duration

    public var description: String { "timed out after \(timeout) waiting until \(what)" }
}

/// Waits until `condition` holds, re-checking every 5 ms, for at most `timeout`; throws
/// `ConditionTimedOut` naming `what` otherwise. For state that has no event to await (a row
/// another task writes, a count an actor keeps): the wait ends on the condition, never on a
/// guess of how long the work takes, so a loaded machine makes a test slower, not red. The
/// default bound is generous for that reason: it only costs time when the test fails anyway.
public func eventually(
    _ what: String, timeout: Duration = .seconds(30), isolation: isolated (any Actor)? = #isolation,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while try await !condition() {
        guard clock.now < deadline else { throw ConditionTimedOut(what: what, timeout: timeout) }
        try await Task.sleep(for: .milliseconds(5))
    }
}
