import Logging
import RippleStorage
import RippleValues

/// An error thrown by a function on purpose, carrying data for the client (Convex's
/// `ConvexError`): the data reaches the client intact as `errorData`.
public struct ConvexError: Error, Sendable, CustomStringConvertible {
    public let data: Value

    public init(_ data: Value) { self.data = data }

    public var description: String {
        if case .string(let s) = data { return s }
        return data.convexJSON.serialized()
    }
}

/// A plain error with a message, for `throw UserError("Unauthenticated")` in functions.
public struct UserError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// How a function call failed, as a client sees it: a message, and `data` for a ConvexError.
public struct FunctionError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No such (public) function.
        case unknownFunction
        /// Arguments did not match the function's validators.
        case invalidArguments
        /// The function threw (a `ConvexError`, a `UserError`, or any other error).
        case thrown
        /// A transaction limit or a schema/value rule was broken by the function's reads or writes.
        case invalidUse
        /// The node could not run it (storage failure, shutting down); safe to retry.
        case unavailable
    }

    public let kind: Kind
    public let message: String
    public let data: Value?
    /// Set when the call is a mutation that may or may not have been applied, saying why. Known
    /// on the node that saw it happen; a forwarded error carries only its message.
    public let unknownOutcome: UnknownOutcome?

    public init(_ kind: Kind, _ message: String, data: Value? = nil) {
        self.init(kind, message, data: data, unknownOutcome: nil)
    }

    init(_ kind: Kind, _ message: String, data: Value? = nil, unknownOutcome: UnknownOutcome?) {
        self.kind = kind
        self.message = message
        self.data = data
        self.unknownOutcome = unknownOutcome
    }

    public var description: String { message }

    /// Wraps whatever a function threw in the shape clients expect.
    static func from(_ error: any Error) -> FunctionError {
        switch error {
        case let error as FunctionError: return error
        case let error as ConvexError: return FunctionError(.thrown, "Uncaught ConvexError: \(error)", data: error.data)
        case let error as UserError: return FunctionError(.thrown, "Uncaught Error: \(error.message)")
        case let error as TransactionError: return FunctionError(.invalidUse, "Uncaught Error: \(error.message)")
        case let error as ValueError: return FunctionError(.invalidUse, "Uncaught Error: \(error.message)")
        case let error as DatabaseError: return serverError(error)
        default: return FunctionError(.thrown, "Uncaught Error: \(error)")
        }
    }

    /// A failure of the node itself (SQLite, I/O), whose text may quote SQL, paths or addresses:
    /// the client gets Convex's generic message with a request id to quote, and the log gets the
    /// details under that id.
    public static func serverError(_ error: any Error) -> FunctionError {
        let requestID = String(UInt64.random(in: .min ... .max), radix: 16)
        serverErrorLogger.error("request failed inside the server", metadata: ["requestId": "\(requestID)", "error": "\(error)"])
        return FunctionError(.unavailable, "[Request ID: \(requestID)] Server Error")
    }
}

private let serverErrorLogger = Logger(label: "ripple.engine")

/// A misuse of the database API inside a function: a broken limit, a schema violation, a
/// missing document, a bad index range. The message says which.
public struct TransactionError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
