import RippleValues

/// A message the server sends on the sync WebSocket (protocol.md §3), one per text frame.
///
/// `serialized()` writes exactly the fields the official clients require: `logLines` always,
/// `result` always, integers as integer literals, timestamps as base64 little-endian u64, values
/// in Convex JSON, and `errorData` only for a ConvexError. `TransitionChunk` is deliberately
/// absent: the Rust and Python clients treat it as a protocol error.
public enum ServerMessage: Sendable, Equatable {
    /// Moves the client's view from one `StateVersion` to the next.
    case transition(Transition)
    /// The outcome of a `Mutation`.
    case mutationResponse(MutationResponse)
    /// The outcome of an `Action`.
    case actionResponse(ActionResponse)
    /// An `Authenticate` failed (`authUpdateAttempted`), or the current identity became invalid.
    /// `baseVersion` is the identity version the server is at.
    case authError(error: String, baseVersion: UInt32?, authUpdateAttempted: Bool)
    /// Unrecoverable protocol misuse: JS stops for good, Rust reconnects.
    case fatalError(error: String)
    /// Keeps client inactivity timers from firing.
    case ping

    /// The wire `type` discriminator.
    public var typeName: String {
        switch self {
        case .transition: "Transition"
        case .mutationResponse: "MutationResponse"
        case .actionResponse: "ActionResponse"
        case .authError: "AuthError"
        case .fatalError: "FatalError"
        case .ping: "Ping"
        }
    }
}

/// The body of a `Transition` (protocol.md §3.3).
public struct Transition: Sendable, Equatable {
    /// Must equal the `endVersion` of the previous Transition on the socket.
    public var startVersion: StateVersion
    /// The client's version once it applies `modifications`.
    public var endVersion: StateVersion
    public var modifications: [StateModification]
    /// Milliseconds between the client's `Connect.clientTs` and the server clock; logging only.
    public var clientClockSkew: Int64?
    /// The server's clock in nanoseconds when it sent the Transition; logging and token refresh timing only.
    public var serverTs: Int64?

    public init(
        startVersion: StateVersion, endVersion: StateVersion, modifications: [StateModification] = [], clientClockSkew: Int64? = nil,
        serverTs: Int64? = nil
    ) {
        self.startVersion = startVersion
        self.endVersion = endVersion
        self.modifications = modifications
        self.clientClockSkew = clientClockSkew
        self.serverTs = serverTs
    }
}

/// One query's change inside a Transition.
public enum StateModification: Sendable, Equatable {
    /// A new result. `journal` is opaque to the client and comes back in `Add` after a reconnect.
    case queryUpdated(queryId: UInt32, value: Value, logLines: [String], journal: String?)
    /// The query threw. `errorData` is present only for a ConvexError (`.null` is valid ConvexError data).
    case queryFailed(queryId: UInt32, errorMessage: String, logLines: [String], journal: String?, errorData: Value?)
    /// Confirms a `Remove`.
    case queryRemoved(queryId: UInt32)

    public var queryId: UInt32 {
        switch self {
        case .queryUpdated(let queryId, _, _, _), .queryFailed(let queryId, _, _, _, _), .queryRemoved(let queryId): queryId
        }
    }
}

/// The outcome of a mutation (protocol.md §3.5).
public enum MutationResponse: Sendable, Equatable {
    /// Committed at `ts`; the client finishes the call once a Transition reaches `ts`.
    case success(requestId: UInt32, result: Value, ts: UInt64, logLines: [String])
    /// The mutation threw; `errorData` only for a ConvexError.
    case failure(requestId: UInt32, message: String, errorData: Value?, logLines: [String])

    public var requestId: UInt32 {
        switch self {
        case .success(let requestId, _, _, _), .failure(let requestId, _, _, _): requestId
        }
    }
}

/// The outcome of an action: like `MutationResponse` without a commit timestamp.
public enum ActionResponse: Sendable, Equatable {
    case success(requestId: UInt32, result: Value, logLines: [String])
    /// The action threw; `errorData` only for a ConvexError.
    case failure(requestId: UInt32, message: String, errorData: Value?, logLines: [String])

    public var requestId: UInt32 {
        switch self {
        case .success(let requestId, _, _), .failure(let requestId, _, _, _): requestId
        }
    }
}

// MARK: - Serialization

extension ServerMessage {
    /// The message in the field order the real server and protocol.md use.
    public var json: JSON {
        var fields: [(String, JSON)] = [("type", .string(typeName))]
        switch self {
        case .transition(let transition):
            fields.append(("startVersion", transition.startVersion.json))
            fields.append(("endVersion", transition.endVersion.json))
            fields.append(("modifications", .array(transition.modifications.map(\.json))))
            fields.append(("clientClockSkew", transition.clientClockSkew.map(JSON.int) ?? .null))
            fields.append(("serverTs", transition.serverTs.map(JSON.int) ?? .null))
        case .mutationResponse(.success(let requestId, let result, let ts, let logLines)):
            fields.append(("requestId", .int(Int64(requestId))))
            fields.append(("success", .bool(true)))
            fields.append(("result", result.convexJSON))
            fields.append(("ts", .string(WireTimestamp.encode(ts))))
            fields.append(("logLines", logLinesJSON(logLines)))
        case .mutationResponse(.failure(let requestId, let message, let errorData, let logLines)):
            fields.append(("requestId", .int(Int64(requestId))))
            fields.append(("success", .bool(false)))
            fields.append(("result", .string(message)))
            fields.append(("ts", .null))
            fields.append(("logLines", logLinesJSON(logLines)))
            if let errorData { fields.append(("errorData", errorData.convexJSON)) }
        case .actionResponse(.success(let requestId, let result, let logLines)):
            fields.append(("requestId", .int(Int64(requestId))))
            fields.append(("success", .bool(true)))
            fields.append(("result", result.convexJSON))
            fields.append(("logLines", logLinesJSON(logLines)))
        case .actionResponse(.failure(let requestId, let message, let errorData, let logLines)):
            fields.append(("requestId", .int(Int64(requestId))))
            fields.append(("success", .bool(false)))
            fields.append(("result", .string(message)))
            fields.append(("logLines", logLinesJSON(logLines)))
            if let errorData { fields.append(("errorData", errorData.convexJSON)) }
        case .authError(let error, let baseVersion, let authUpdateAttempted):
            fields.append(("error", .string(error)))
            fields.append(("baseVersion", baseVersion.map { JSON.int(Int64($0)) } ?? .null))
            fields.append(("authUpdateAttempted", .bool(authUpdateAttempted)))
        case .fatalError(let error):
            fields.append(("error", .string(error)))
        case .ping:
            break
        }
        return .object(fields)
    }

    /// Compact JSON text for one WebSocket text frame.
    public func serialized() -> String { json.serialized() }
}

extension StateModification {
    /// `QueryUpdated`, `QueryFailed` or `QueryRemoved`; `journal` is always present, `null` when `nil`.
    public var json: JSON {
        switch self {
        case .queryUpdated(let queryId, let value, let logLines, let journal):
            return .object([
                ("type", .string("QueryUpdated")), ("queryId", .int(Int64(queryId))), ("value", value.convexJSON),
                ("logLines", logLinesJSON(logLines)), ("journal", journal.map(JSON.string) ?? .null),
            ])
        case .queryFailed(let queryId, let errorMessage, let logLines, let journal, let errorData):
            var fields: [(String, JSON)] = [
                ("type", .string("QueryFailed")), ("queryId", .int(Int64(queryId))), ("errorMessage", .string(errorMessage)),
                ("logLines", logLinesJSON(logLines)), ("journal", journal.map(JSON.string) ?? .null),
            ]
            if let errorData { fields.append(("errorData", errorData.convexJSON)) }
            return .object(fields)
        case .queryRemoved(let queryId):
            return .object([("type", .string("QueryRemoved")), ("queryId", .int(Int64(queryId)))])
        }
    }
}

private func logLinesJSON(_ lines: [String]) -> JSON { .array(lines.map(JSON.string)) }

// MARK: - Parsing

extension ServerMessage {
    /// Parses one text frame, as a client would; for tests and Ripple's own tooling.
    public static func parse(_ text: String) throws(ProtocolError) -> ServerMessage {
        try parse(utf8: Array(text.utf8))
    }

    /// Parses one frame's UTF-8 bytes.
    public static func parse(utf8 bytes: some Collection<UInt8>) throws(ProtocolError) -> ServerMessage {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw .invalidJSON(error.description)
        }
        return try ServerMessage(json: json)
    }

    /// Reads a message from parsed JSON, requiring what the Rust client requires.
    public init(json: JSON) throws(ProtocolError) {
        guard case .object = json else { throw .notAnObject(found: describe(json)) }
        guard case .string(let type) = json["type"] else { throw .missingType }
        let fields = try FieldReader(json, message: type)
        switch type {
        case "Transition":
            var modifications: [StateModification] = []
            for (index, item) in try fields.array("modifications").enumerated() {
                modifications.append(try StateModification(json: item, message: type, at: "modifications[\(index)]"))
            }
            self = .transition(
                Transition(
                    startVersion: try StateVersion(reading: try fields.object("startVersion")),
                    endVersion: try StateVersion(reading: try fields.object("endVersion")),
                    modifications: modifications,
                    clientClockSkew: try fields.optionalInt64("clientClockSkew"),
                    serverTs: try fields.optionalInt64("serverTs")
                )
            )
        case "MutationResponse":
            let requestId = try fields.u32("requestId")
            if try fields.bool("success") {
                self = .mutationResponse(
                    .success(
                        requestId: requestId, result: try fields.value("result"), ts: try fields.timestamp("ts"),
                        logLines: try fields.stringArray("logLines"))
                )
            } else {
                self = .mutationResponse(
                    .failure(
                        requestId: requestId, message: try fields.string("result"), errorData: try fields.optionalValue("errorData"),
                        logLines: try fields.stringArray("logLines"))
                )
            }
        case "ActionResponse":
            let requestId = try fields.u32("requestId")
            if try fields.bool("success") {
                self = .actionResponse(
                    .success(requestId: requestId, result: try fields.value("result"), logLines: try fields.stringArray("logLines")))
            } else {
                self = .actionResponse(
                    .failure(
                        requestId: requestId, message: try fields.string("result"), errorData: try fields.optionalValue("errorData"),
                        logLines: try fields.stringArray("logLines"))
                )
            }
        case "AuthError":
            self = .authError(
                error: try fields.string("error"),
                baseVersion: try fields.optionalU32("baseVersion"),
                authUpdateAttempted: try fields.optionalBool("authUpdateAttempted") ?? false
            )
        case "FatalError":
            self = .fatalError(error: try fields.string("error"))
        case "Ping":
            self = .ping
        default:
            throw .unknownType(type)
        }
    }
}

extension StateModification {
    init(json: JSON, message: String, at path: String) throws(ProtocolError) {
        let fields = try FieldReader(json, message: message, at: path)
        let type = try fields.string("type")
        switch type {
        case "QueryUpdated":
            self = .queryUpdated(
                queryId: try fields.u32("queryId"),
                value: try fields.value("value"),
                logLines: try fields.stringArray("logLines"),
                journal: try fields.optionalString("journal")
            )
        case "QueryFailed":
            self = .queryFailed(
                queryId: try fields.u32("queryId"),
                errorMessage: try fields.string("errorMessage"),
                logLines: try fields.stringArray("logLines"),
                journal: try fields.optionalString("journal"),
                errorData: try fields.optionalValue("errorData")
            )
        case "QueryRemoved":
            self = .queryRemoved(queryId: try fields.u32("queryId"))
        default:
            throw .invalidField(
                message: message, field: fields.path("type"), expected: "\"QueryUpdated\", \"QueryFailed\" or \"QueryRemoved\"",
                found: excerpt(type))
        }
    }
}
