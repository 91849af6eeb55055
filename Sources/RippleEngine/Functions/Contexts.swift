import Logging
import RippleValues

/// `ctx.auth`: who is calling.
public struct Auth: Sendable {
    public let identity: Identity

    /// The verified user, or `nil` for anonymous callers (Convex's `getUserIdentity()`).
    public func getUserIdentity() -> UserIdentity? { identity.user }
}

/// `ctx.db` in queries: reads at one consistent snapshot.
public class DatabaseReader {
    let transaction: Transaction

    init(transaction: Transaction) { self.transaction = transaction }

    /// The document with this id, or `nil` if it does not exist.
    public func get(_ id: String) throws -> Document? { try transaction.get(id) }

    /// Starts a query on a table: `try ctx.db.query("messages").withIndex("by_channel") { ... }`.
    public func query(_ table: String) -> QueryInitializer { QueryInitializer(transaction: transaction, tableName: table) }

    /// Read-only access to the system tables, e.g. `ctx.db.system.query("_scheduled_functions")`.
    public var system: SystemDatabaseReader { SystemDatabaseReader(transaction: transaction) }
}

/// `ctx.db.system`: reads of the engine's tables (`_scheduled_functions`, `_cron_jobs`), which
/// functions may read and subscribe to but not write.
public struct SystemDatabaseReader {
    let transaction: Transaction

    public func get(_ id: String) throws -> Document? { try transaction.get(id) }

    public func query(_ table: String) -> QueryInitializer {
        QueryInitializer(transaction: transaction, tableName: table, system: true)
    }
}

/// `ctx.db` in mutations: reads see the mutation's own earlier writes; all writes commit
/// together or not at all.
public final class DatabaseWriter: DatabaseReader {
    /// Inserts a document and returns its new `_id`.
    @discardableResult
    public func insert(_ table: String, _ fields: [String: Value]) throws -> String { try transaction.insert(table, fields) }

    /// Shallow-merges `fields` into the document; a `nil` value removes that field.
    public func patch(_ id: String, _ fields: [String: Value?]) throws { try transaction.patch(id, fields) }

    /// Replaces every user field of the document; `_id` and `_creationTime` stay.
    public func replace(_ id: String, _ fields: [String: Value]) throws { try transaction.replace(id, fields) }

    public func delete(_ id: String) throws { try transaction.delete(id) }
}

@available(*, unavailable)
extension DatabaseReader: Sendable {}

/// The context of a query function.
public struct QueryContext {
    public let db: DatabaseReader
    public let auth: Auth
    /// Milliseconds since the epoch when the query started (Convex's frozen `Date.now()`).
    public let now: Double
}

/// The context of a mutation function.
public struct MutationContext {
    public let db: DatabaseWriter
    public let auth: Auth
    /// The mutation's commit timestamp in milliseconds: `Date.now()` for a mutation, and the
    /// `_creationTime` of the documents it inserts.
    public let now: Double
    /// Schedules functions as part of this mutation's transaction.
    public let scheduler: Scheduler
}

/// The context of an action: no database; it calls queries, mutations and other actions,
/// with the caller's identity (internal functions are allowed here), and reaches the outside
/// world through `fetch`, configured by `env`.
public struct ActionContext: Sendable {
    public let auth: Auth
    let engine: Engine

    /// The deployment's environment variables (secrets included); see `DeploymentEnvironment`.
    public var env: DeploymentEnvironment { engine.environment }

    /// The node's log, for what an operator should know (never a secret: nothing masks logs).
    public var logger: Logger { engine.logger }

    /// Makes an outbound HTTP request over the node's shared client. The response comes back
    /// once its head has arrived; its body streams. Fails with `FetchError`.
    public func fetch(_ request: FetchRequest) async throws -> FetchResponse {
        try await engine.fetcher.fetch(request)
    }

    /// `fetch` for the common case: a URL, a method, headers and a body.
    public func fetch(
        _ url: String, method: String = "GET", headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: Duration? = nil
    ) async throws -> FetchResponse {
        try await fetch(FetchRequest(url: url, method: method, headers: headers, body: body, timeout: timeout))
    }

    /// Schedules functions; each call commits on its own.
    public var scheduler: ActionScheduler { ActionScheduler(engine: engine) }

    public func runQuery(_ path: String, _ args: [String: Value] = [:]) async throws -> Value {
        try await engine.query(path, args, identity: auth.identity, caller: .server).value
    }

    public func runMutation(_ path: String, _ args: [String: Value] = [:]) async throws -> Value {
        try await engine.mutation(path, args, identity: auth.identity, caller: .server).value
    }

    public func runAction(_ path: String, _ args: [String: Value] = [:]) async throws -> Value {
        try await engine.action(path, args, identity: auth.identity, caller: .server)
    }
}

/// A function's validated arguments, with typed accessors that fail with clear messages.
public struct Arguments: Sendable {
    public let fields: [String: Value]

    public init(_ fields: [String: Value]) { self.fields = fields }

    public subscript(name: String) -> Value? { fields[name] }

    public func string(_ name: String) throws -> String {
        guard let s = fields[name]?.stringValue else { throw mismatch(name, "a string") }
        return s
    }

    public func optionalString(_ name: String) throws -> String? {
        guard let value = fields[name], !value.isNull else { return nil }
        return try string(name)
    }

    public func double(_ name: String) throws -> Double {
        guard case .float64(let d)? = fields[name] else { throw mismatch(name, "a number") }
        return d
    }

    /// A whole number in `range`, for counts and limits taken from a caller: `Int(_:)` on an
    /// arbitrary double (NaN, 1e300, 2.5) traps, so every such conversion goes through here.
    public func int(_ name: String, in range: ClosedRange<Int>) throws -> Int {
        guard case .float64(let d)? = fields[name], let n = Int(exactly: d), range.contains(n) else {
            throw mismatch(name, "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    public func bool(_ name: String) throws -> Bool {
        guard let b = fields[name]?.boolValue else { throw mismatch(name, "a boolean") }
        return b
    }

    public func optionalBool(_ name: String) throws -> Bool? {
        guard let value = fields[name], !value.isNull else { return nil }
        return try bool(name)
    }

    private func mismatch(_ name: String, _ expected: String) -> UserError {
        UserError("Argument `\(name)` is \(fields[name].map { "\($0)" } ?? "missing"), expected \(expected)")
    }
}
