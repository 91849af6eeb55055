import RippleValues

/// Why a call made through `RippleClient` did not produce its result.
///
/// Function failures carry the server's message verbatim and, for a `ConvexError`, its `data`,
/// so an app can branch on the data the function threw rather than on message text.
public enum RippleClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The function threw on the server. `data` is the `ConvexError`'s data, `nil` for any other error.
    case functionFailed(path: String, message: String, data: Value?)
    /// The connection dropped while an action ran. Actions are not transactions, so the client
    /// cannot know whether it ran and does not resend it (as the JS client).
    case connectionLostDuringAction(path: String)
    /// The arguments could not be encoded as a Convex value, or the path cannot name a function.
    case invalidRequest(path: String, reason: String)
    /// The server's result does not decode as the reference's `Result` type.
    case unexpectedResult(path: String, reason: String)
    /// The client was closed before the call finished.
    case closed

    public var description: String {
        switch self {
        case .functionFailed(let path, let message, let data):
            return "\(path) failed: \(message)" + (data.map { " (data: \($0.convexJSON.serialized()))" } ?? "")
        case .connectionLostDuringAction(let path):
            return "Connection lost while action \(path) was in flight"
        case .invalidRequest(let path, let reason):
            return "Cannot call \(path): \(reason)"
        case .unexpectedResult(let path, let reason):
            return "The result of \(path) does not have the expected type: \(reason)"
        case .closed:
            return "The client is closed"
        }
    }
}
