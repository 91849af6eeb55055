import RippleValues

/// Why a WebSocket frame is not a valid sync-protocol message.
///
/// Descriptions are written for the developer of the client that sent the frame: the server
/// sends them verbatim in a `FatalError`, so they name the message type, the field path and
/// what was expected, and never echo more than a short excerpt of the input.
public enum ProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The frame is not JSON text; carries the parser's explanation.
    case invalidJSON(String)
    /// The frame is JSON but not an object; carries what it is instead (`"an array"`).
    case notAnObject(found: String)
    /// The object has no `type` field, or its `type` is not a string.
    case missingType
    /// The `type` names no message of this direction of the protocol.
    case unknownType(String)
    /// A field that the message type requires is absent. `field` is a path such as `modifications[1].queryId`.
    case missingField(message: String, field: String)
    /// A field has the wrong JSON type or is out of range (a negative id, a float, a bad timestamp).
    case invalidField(message: String, field: String, expected: String, found: String)
    /// A Convex-JSON payload (`args`, a result, `errorData`) has the wrong shape or does not decode.
    case invalidValue(message: String, field: String, reason: String)
    /// A function path (`udfPath`) that cannot name a function.
    case invalidUdfPath(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidJSON(let reason):
            return "Invalid message: not valid JSON (\(reason))"
        case .notAnObject(let found):
            return "Invalid message: expected a JSON object, got \(found)"
        case .missingType:
            return "Invalid message: missing string field `type`"
        case .unknownType(let type):
            return "Invalid message: unknown message type \(excerpt(type))"
        case .missingField(let message, let field):
            return "Invalid \(message) message: missing field `\(field)`"
        case .invalidField(let message, let field, let expected, let found):
            return "Invalid \(message) message: field `\(field)` must be \(expected), got \(found)"
        case .invalidValue(let message, let field, let reason):
            return "Invalid \(message) message: field `\(field)` \(reason)"
        case .invalidUdfPath(let path, let reason):
            return "Invalid function path \(excerpt(path)): \(reason)"
        }
    }
}

/// A quoted, length-bounded rendering of client text for error messages.
func excerpt(_ text: String, limit: Int = 64) -> String {
    let bounded = text.count > limit ? String(text.prefix(limit)) + "…" : text
    return JSON.string(bounded).serialized()
}

/// What a JSON value is, for "got …" in error messages. Numbers are shown; strings are not.
func describe(_ json: JSON) -> String {
    switch json {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .number(let d): return d.isFinite ? JSON.number(d).serialized() : "a non-finite number"
    case .string: return "a string"
    case .array(let items): return items.isEmpty ? "an empty array" : "an array"
    case .object: return "an object"
    }
}
