/// What one client may make a node hold. Every resource a socket or request can grow has a cap
/// here, refused with an error that names the limit and its setting; docs/operations.md lists
/// them ("## Limits"). Defaults follow Convex where it has a limit (message size, page size)
/// and are otherwise generous for real apps and small for a flood.
public struct SyncLimits: Sendable, Equatable {
    /// Largest WebSocket message or HTTP body, in bytes. Convex accepts 16 MiB of arguments.
    public var maxMessageBytes = 16 << 20
    /// Subscribed queries on one socket. A page of a paginated list is one query.
    public var maxQueriesPerSocket = 1_000
    /// Actions started on one socket and not yet answered.
    public var maxActionsInFlightPerSocket = 64
    /// Open sync sockets from one remote address (0: no limit, for a node behind a proxy).
    public var maxSocketsPerAddress = 256
    /// Open sync sockets on the node (0: no limit).
    public var maxSockets = 10_000
    /// Queries in one `/api/query_batch` request (they run in one read transaction).
    public var maxQueryBatch = 256
    /// How long a socket whose client has seen a newer state than this replica has applied
    /// waits for the replica to catch up before it is closed (the client reconnects).
    public var catchUpTimeout: Duration = .seconds(30)
    /// Live queries re-run in one read transaction of an update round; larger rounds are split
    /// and the hub yields between the parts, so one read transaction never grows with the
    /// number of subscriptions.
    public var maxQueriesPerRound = 1_000

    public init() {}

    /// The settings, by environment variable, with what each sets.
    static var settings: [(name: String, keyPath: WritableKeyPath<SyncLimits, Int>)] {
        [
            ("RIPPLE_MAX_MESSAGE_BYTES", \.maxMessageBytes),
            ("RIPPLE_MAX_QUERIES_PER_SOCKET", \.maxQueriesPerSocket),
            ("RIPPLE_MAX_ACTIONS_PER_SOCKET", \.maxActionsInFlightPerSocket),
            ("RIPPLE_MAX_SOCKETS_PER_ADDRESS", \.maxSocketsPerAddress),
            ("RIPPLE_MAX_SOCKETS", \.maxSockets),
            ("RIPPLE_MAX_QUERY_BATCH", \.maxQueryBatch),
            ("RIPPLE_MAX_QUERIES_PER_ROUND", \.maxQueriesPerRound),
        ]
    }

    /// The defaults, overridden by `RIPPLE_MAX_*` (and `RIPPLE_CATCH_UP_TIMEOUT_SECONDS`)
    /// variables; a malformed value is an error naming the variable, never silently ignored.
    public init(environment: [String: String]) throws(SyncLimitsError) {
        self.init()
        for (name, keyPath) in Self.settings {
            guard let text = environment[name], !text.isEmpty else { continue }
            guard let value = Int(text), value >= 0 else { throw SyncLimitsError(variable: name, value: text, expected: "a whole number >= 0") }
            self[keyPath: keyPath] = value
        }
        if let text = environment["RIPPLE_CATCH_UP_TIMEOUT_SECONDS"], !text.isEmpty {
            guard let seconds = Int(text), seconds > 0 else {
                throw SyncLimitsError(variable: "RIPPLE_CATCH_UP_TIMEOUT_SECONDS", value: text, expected: "a whole number of seconds > 0")
            }
            catchUpTimeout = .seconds(seconds)
        }
    }
}

/// A limit setting that is not a number.
public struct SyncLimitsError: Error, CustomStringConvertible, Sendable {
    let variable: String
    let value: String
    let expected: String
    public var description: String { "\(variable) must be \(expected), got \"\(value)\"" }
}

/// The refusal a client gets when it reaches a limit.
enum LimitExceeded {
    static func queriesPerSocket(_ limit: Int) -> String {
        "TooManyQueries: this socket would have more than \(limit) subscribed queries (RIPPLE_MAX_QUERIES_PER_SOCKET)"
    }

    static func actionsInFlight(_ limit: Int) -> String {
        "TooManyActions: this socket already has \(limit) actions running (RIPPLE_MAX_ACTIONS_PER_SOCKET); wait for one to finish"
    }

    static func socketsPerAddress(_ limit: Int) -> String {
        "TooManyConnections: more than \(limit) sockets from one address (RIPPLE_MAX_SOCKETS_PER_ADDRESS)"
    }

    static func sockets(_ limit: Int) -> String {
        "TooManyConnections: this node already serves \(limit) sockets (RIPPLE_MAX_SOCKETS); try another node or later"
    }

    static func queryBatch(_ count: Int, _ limit: Int) -> String {
        "query_batch holds \(count) queries; at most \(limit) are allowed (RIPPLE_MAX_QUERY_BATCH)"
    }
}
