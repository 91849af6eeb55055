import Synchronization
import RippleValues

/// The node's most recent function executions, for the dashboard's log view: a bounded ring
/// (oldest dropped first), read by cursor so a page polling it sees each entry once and a slow
/// page costs nothing. Written by every query, mutation and action call on this node.
public final class ExecutionLog: Sendable {
    /// One finished function call.
    public struct Entry: Sendable {
        /// Increases by one per entry on this node; the cursor readers pass back.
        public let sequence: UInt64
        public let path: String
        public let kind: FunctionKind
        /// Milliseconds since the epoch when the call finished.
        public let finishedAt: Double
        public let durationMs: Double
        /// The error message for a failed call, nil for a successful one.
        public let error: String?
    }

    /// Entries kept (default 1,000; `EngineOptions.executionLogCapacity`).
    public let capacity: Int
    private struct State {
        var entries: [Entry] = []
        /// Where the next entry goes once the ring is full.
        var next = 0
        var sequence: UInt64 = 0
    }
    private let state = Mutex(State())

    public init(capacity: Int) {
        precondition(capacity > 0, "an execution log holds at least one entry")
        self.capacity = capacity
    }

    func record(path: String, kind: FunctionKind, started: ContinuousClock.Instant, error: String?) {
        let elapsed = ContinuousClock.now - started
        let durationMs = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        let finishedAt = CommitClock.wallClock().milliseconds
        state.withLock { state in
            state.sequence += 1
            let entry = Entry(sequence: state.sequence, path: path, kind: kind, finishedAt: finishedAt, durationMs: durationMs, error: error)
            if state.entries.count < capacity {
                state.entries.append(entry)
            } else {
                state.entries[state.next] = entry
                state.next = (state.next + 1) % capacity
            }
        }
    }

    /// Up to `limit` entries after `cursor` (0 for all kept), oldest first.
    public func entries(after cursor: UInt64, limit: Int) -> [Entry] {
        state.withLock { state in
            let ordered = state.entries[state.next...] + state.entries[..<state.next]
            return Array(ordered.filter { $0.sequence > cursor }.prefix(limit))
        }
    }
}

// MARK: - Calling functions, logged

extension Engine {
    /// Runs a query at the latest committed snapshot. `journal` is the end cursor of an earlier
    /// run of the same paginated query, which keeps its page boundary.
    public func query(
        _ path: String, _ args: [String: Value] = [:], identity: Identity = .anonymous, journal: String? = nil,
        caller: Caller = .client
    ) async throws(FunctionError) -> QueryResult {
        try await logged(path, .query) { () async throws(FunctionError) in
            try await executeQuery(path, args, identity: identity, journal: journal, caller: caller)
        }
    }

    /// Runs a mutation on the writer; returns once its group commit is durable. A client
    /// `request` is deduplicated: its resend gets the first result (see `executeMutation`).
    public func mutation(
        _ path: String, _ args: [String: Value] = [:], identity: Identity = .anonymous, caller: Caller = .client,
        request: ClientRequest? = nil
    ) async throws(FunctionError) -> MutationResult {
        try await logged(path, .mutation) { () async throws(FunctionError) in
            try await executeMutation(path, args, identity: identity, caller: caller, request: request)
        }
    }

    /// Runs an action. Actions have no database; they call queries and mutations.
    public func action(
        _ path: String, _ args: [String: Value] = [:], identity: Identity = .anonymous, caller: Caller = .client
    ) async throws(FunctionError) -> Value {
        try await logged(path, .action) { () async throws(FunctionError) in
            try await executeAction(path, args, identity: identity, caller: caller)
        }
    }

    private func logged<T>(
        _ path: String, _ kind: FunctionKind, _ call: () async throws(FunctionError) -> T
    ) async throws(FunctionError) -> T {
        let started = ContinuousClock.now
        do {
            let result = try await call()
            executions.record(path: FunctionPath.canonical(path), kind: kind, started: started, error: nil)
            return result
        } catch {
            executions.record(path: FunctionPath.canonical(path), kind: kind, started: started, error: error.message)
            throw error
        }
    }
}
