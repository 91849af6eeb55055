/// A typed name of a registered function: its path (`"messages:list"`), its kind, the Swift type of
/// its arguments and of its result. One constant serves the server, which registers the handler
/// under it, and every caller — `ctx.runQuery`, `ctx.scheduler.runAfter`, the Swift client — so
/// a caller cannot pass the wrong arguments or read the result as the wrong type.
///
/// The kind is a marker type, not a stored value, so `client.query(Messages.send, …)` on a
/// mutation reference does not compile. Use the aliases:
///
///     enum Messages {
///         static let list = QueryReference<ListMessages, [Message]>("messages:list")
///         static let send = MutationReference<SendMessage, ID<Message>>("messages:sendMessage")
///     }
///
/// On the wire nothing of the type travels: a reference is its path, as in Convex's
/// `api.messages.list`.
public struct FunctionReference<Kind: FunctionKindMarker, Args: Codable & Sendable, Result: Codable & Sendable>:
    Sendable, Hashable, CustomStringConvertible
{
    /// The function's path as clients name it: `"module:function"`.
    public let path: String

    public init(_ path: String) { self.path = path }

    public var description: String { path }
}

/// What kind of function a `FunctionReference` names; the three markers below are its only
/// conformers.
public protocol FunctionKindMarker: Sendable {
    /// The kind's name in the wire protocol and in error messages: "query", "mutation", "action".
    static var name: String { get }
}

/// Marks a reference to a query: read-only, deterministic, subscribable.
public enum QueryFunction: FunctionKindMarker { public static let name = "query" }

/// Marks a reference to a mutation: a serializable transaction.
public enum MutationFunction: FunctionKindMarker { public static let name = "mutation" }

/// Marks a reference to an action: may call the outside world; not a transaction.
public enum ActionFunction: FunctionKindMarker { public static let name = "action" }

public typealias QueryReference<Args: Codable & Sendable, Result: Codable & Sendable> =
    FunctionReference<QueryFunction, Args, Result>
public typealias MutationReference<Args: Codable & Sendable, Result: Codable & Sendable> =
    FunctionReference<MutationFunction, Args, Result>
public typealias ActionReference<Args: Codable & Sendable, Result: Codable & Sendable> =
    FunctionReference<ActionFunction, Args, Result>

/// The arguments of a function that takes none: encodes as `{}`, as Convex clients send.
public struct NoArguments: Codable, Sendable, Hashable {
    public init() {}
}

/// The result of a function that returns nothing: Convex's `null`.
public struct Nothing: Codable, Sendable, Hashable {
    public init() {}
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard container.decodeNil() else {
            throw DecodingError.typeMismatch(
                Nothing.self, .init(codingPath: decoder.codingPath, debugDescription: "expected null"))
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}
