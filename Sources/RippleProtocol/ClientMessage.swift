import RippleValues

/// A message a client sends on the sync WebSocket (protocol.md §2), one per text frame.
///
/// Parsing validates everything the wire can get wrong (types, u32 ranges, the args wrapper,
/// function paths) so the engine only sees well-formed requests; protocol rules that depend on
/// socket state (base versions, duplicate query ids) are the engine's to check.
public enum ClientMessage: Sendable, Equatable {
    /// Always the first message on a socket.
    case connect(Connect)
    /// Adds and removes subscriptions, moving the query set from `baseVersion` to `newVersion`.
    case modifyQuerySet(baseVersion: UInt32, newVersion: UInt32, modifications: [QuerySetModification])
    /// Runs a mutation; `args` is the arguments object and `udfPath` is canonical.
    case mutation(requestId: UInt32, udfPath: String, args: Value, componentPath: String?)
    /// Runs an action; `requestId` shares its counter with mutations.
    case action(requestId: UInt32, udfPath: String, args: Value, componentPath: String?)
    /// Sets or clears the socket's identity; `baseVersion` counts the Authenticates before it.
    case authenticate(baseVersion: UInt32, token: AuthenticationToken)
    /// Client telemetry, which the server may ignore.
    case event(eventType: String, event: JSON)

    /// The wire `type` discriminator.
    public var typeName: String {
        switch self {
        case .connect: "Connect"
        case .modifyQuerySet: "ModifyQuerySet"
        case .mutation: "Mutation"
        case .action: "Action"
        case .authenticate: "Authenticate"
        case .event: "Event"
        }
    }
}

/// The fields of a `Connect` message (protocol.md §2.1).
public struct Connect: Sendable, Equatable {
    /// A UUID chosen by the client; JS keeps it across reconnects, which makes mutation dedup work.
    public var sessionId: String
    /// 0 on a client's first socket, then incremented per reconnect.
    public var connectionCount: UInt32
    /// Why the previous socket closed (`"InitialConnect"` the first time); clients may send null.
    public var lastCloseReason: String?
    /// The highest timestamp the client has seen, if any.
    public var maxObservedTimestamp: UInt64?
    /// The client's wall clock in milliseconds (JS) or 0 (Rust), for clock-skew reporting.
    public var clientTs: Int64?

    public init(
        sessionId: String, connectionCount: UInt32, lastCloseReason: String? = nil, maxObservedTimestamp: UInt64? = nil,
        clientTs: Int64? = nil
    ) {
        self.sessionId = sessionId
        self.connectionCount = connectionCount
        self.lastCloseReason = lastCloseReason
        self.maxObservedTimestamp = maxObservedTimestamp
        self.clientTs = clientTs
    }
}

/// One change inside a `ModifyQuerySet`.
public enum QuerySetModification: Sendable, Equatable {
    /// Subscribes `queryId` to a query. `journal` is what the server last sent for it (JS re-adds
    /// after a reconnect), `nil` when absent or null; `udfPath` is canonical.
    case add(queryId: UInt32, udfPath: String, args: Value, journal: String?, componentPath: String?)
    /// Ends the subscription `queryId`.
    case remove(queryId: UInt32)

    public var queryId: UInt32 {
        switch self {
        case .add(let queryId, _, _, _, _), .remove(let queryId): queryId
        }
    }
}

/// The credential in an `Authenticate` message (protocol.md §2.4).
public enum AuthenticationToken: Sendable, Equatable {
    /// A user's JWT.
    case user(String)
    /// An admin or deploy key, optionally acting as a user (`UserIdentityAttributes` as sent).
    case admin(String, impersonating: JSON?)
    /// Logs out.
    case none
}

// MARK: - Parsing

extension ClientMessage {
    /// Parses one text frame. Never traps on hostile input.
    public static func parse(_ text: String) throws(ProtocolError) -> ClientMessage {
        try parse(utf8: Array(text.utf8))
    }

    /// Parses one frame's UTF-8 bytes.
    public static func parse(utf8 bytes: some Collection<UInt8>) throws(ProtocolError) -> ClientMessage {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw .invalidJSON(error.description)
        }
        return try ClientMessage(json: json)
    }

    /// Reads a message from parsed JSON.
    public init(json: JSON) throws(ProtocolError) {
        guard case .object = json else { throw .notAnObject(found: describe(json)) }
        guard case .string(let type) = json["type"] else { throw .missingType }
        let fields = try FieldReader(json, message: type)
        switch type {
        case "Connect":
            self = .connect(
                Connect(
                    sessionId: try fields.string("sessionId"),
                    connectionCount: try fields.u32("connectionCount"),
                    lastCloseReason: try fields.optionalString("lastCloseReason"),
                    maxObservedTimestamp: try fields.optionalTimestamp("maxObservedTimestamp"),
                    clientTs: try fields.optionalInt64("clientTs")
                )
            )
        case "ModifyQuerySet":
            var modifications: [QuerySetModification] = []
            for (index, item) in try fields.array("modifications").enumerated() {
                modifications.append(try QuerySetModification(json: item, message: type, at: "modifications[\(index)]"))
            }
            self = .modifyQuerySet(
                baseVersion: try fields.u32("baseVersion"),
                newVersion: try fields.u32("newVersion"),
                modifications: modifications
            )
        case "Mutation":
            self = .mutation(
                requestId: try fields.u32("requestId"),
                udfPath: try fields.udfPath("udfPath"),
                args: try fields.args("args"),
                componentPath: try fields.optionalString("componentPath")
            )
        case "Action":
            self = .action(
                requestId: try fields.u32("requestId"),
                udfPath: try fields.udfPath("udfPath"),
                args: try fields.args("args"),
                componentPath: try fields.optionalString("componentPath")
            )
        case "Authenticate":
            self = .authenticate(baseVersion: try fields.u32("baseVersion"), token: try AuthenticationToken(reading: fields))
        case "Event":
            // serde reads a missing `serde_json::Value` as null, so the real server accepts that too.
            self = .event(eventType: try fields.string("eventType"), event: fields.raw("event") ?? .null)
        default:
            throw .unknownType(type)
        }
    }
}

extension QuerySetModification {
    init(json: JSON, message: String, at path: String) throws(ProtocolError) {
        let fields = try FieldReader(json, message: message, at: path)
        let type = try fields.string("type")
        switch type {
        case "Add":
            self = .add(
                queryId: try fields.u32("queryId"),
                udfPath: try fields.udfPath("udfPath"),
                args: try fields.args("args"),
                journal: try fields.optionalString("journal"),
                componentPath: try fields.optionalString("componentPath")
            )
        case "Remove":
            self = .remove(queryId: try fields.u32("queryId"))
        default:
            throw .invalidField(message: message, field: fields.path("type"), expected: "\"Add\" or \"Remove\"", found: excerpt(type))
        }
    }
}

extension AuthenticationToken {
    init(reading fields: FieldReader) throws(ProtocolError) {
        let tokenType = try fields.string("tokenType")
        switch tokenType {
        case "User":
            self = .user(try fields.string("value"))
        case "Admin":
            // JS sends `impersonating`, Rust `acting_as`; the real server takes either.
            let actingAs = fields.raw("impersonating") ?? fields.raw("acting_as")
            self = .admin(try fields.string("value"), impersonating: actingAs.flatMap { $0.isNull ? nil : $0 })
        case "None":
            self = .none
        default:
            throw .invalidField(
                message: fields.message, field: "tokenType", expected: "\"User\", \"Admin\" or \"None\"", found: excerpt(tokenType))
        }
    }
}

// MARK: - Serialization

extension ClientMessage {
    /// The message as the JS client writes it: `type` first, args wrapped as `[{…}]` in Convex
    /// JSON, `lastCloseReason` always (null when `nil`), other optional fields left out when `nil`.
    public var json: JSON {
        var fields: [(String, JSON)] = [("type", .string(typeName))]
        switch self {
        case .connect(let connect):
            fields.append(("sessionId", .string(connect.sessionId)))
            fields.append(("connectionCount", .int(Int64(connect.connectionCount))))
            fields.append(("lastCloseReason", connect.lastCloseReason.map(JSON.string) ?? .null))
            if let ts = connect.maxObservedTimestamp { fields.append(("maxObservedTimestamp", .string(WireTimestamp.encode(ts)))) }
            if let clientTs = connect.clientTs { fields.append(("clientTs", .int(clientTs))) }
        case .modifyQuerySet(let baseVersion, let newVersion, let modifications):
            fields.append(("baseVersion", .int(Int64(baseVersion))))
            fields.append(("newVersion", .int(Int64(newVersion))))
            fields.append(("modifications", .array(modifications.map(\.json))))
        case .mutation(let requestId, let udfPath, let args, let componentPath),
            .action(let requestId, let udfPath, let args, let componentPath):
            fields.append(("requestId", .int(Int64(requestId))))
            fields.append(("udfPath", .string(udfPath)))
            fields.append(("args", .array([args.convexJSON])))
            if let componentPath { fields.append(("componentPath", .string(componentPath))) }
        case .authenticate(let baseVersion, let token):
            fields.append(("baseVersion", .int(Int64(baseVersion))))
            switch token {
            case .user(let value):
                fields.append(("tokenType", .string("User")))
                fields.append(("value", .string(value)))
            case .admin(let value, let impersonating):
                fields.append(("tokenType", .string("Admin")))
                fields.append(("value", .string(value)))
                if let impersonating { fields.append(("impersonating", impersonating)) }
            case .none:
                fields.append(("tokenType", .string("None")))
            }
        case .event(let eventType, let event):
            fields.append(("eventType", .string(eventType)))
            fields.append(("event", event))
        }
        return .object(fields)
    }

    /// Compact JSON text for one WebSocket text frame.
    public func serialized() -> String { json.serialized() }
}

extension QuerySetModification {
    /// `{"type":"Add",…}` or `{"type":"Remove","queryId":…}`.
    public var json: JSON {
        switch self {
        case .add(let queryId, let udfPath, let args, let journal, let componentPath):
            var fields: [(String, JSON)] = [
                ("type", .string("Add")), ("queryId", .int(Int64(queryId))), ("udfPath", .string(udfPath)),
                ("args", .array([args.convexJSON])),
            ]
            if let journal { fields.append(("journal", .string(journal))) }
            if let componentPath { fields.append(("componentPath", .string(componentPath))) }
            return .object(fields)
        case .remove(let queryId):
            return .object([("type", .string("Remove")), ("queryId", .int(Int64(queryId)))])
        }
    }
}
