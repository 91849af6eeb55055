import RippleLog
import RippleValues

/// A mutation a replica forwards to the writer, with the caller's identity, as bytes for the
/// replication link. `request` (the client's sessionId and requestId, when known) lets the writer
/// answer a resend with the first outcome instead of running it twice.
public struct ForwardedCall: Sendable, Equatable {
    public let path: String
    public let args: [String: Value]
    public let identity: Identity
    public let request: ClientRequest?
    /// Who called on the replica: a client, server code (an action: internal functions allowed),
    /// or the engine itself (the scheduler: `_system/` functions allowed).
    public let caller: Caller

    public init(path: String, args: [String: Value], identity: Identity, request: ClientRequest?, caller: Caller = .client) {
        self.path = path
        self.args = args
        self.identity = identity
        self.request = request
        self.caller = caller
    }

    public var encoded: [UInt8] {
        var fields: [String: Value] = [
            "path": .string(path), "args": .object(args), "identity": identity.value, "caller": .string(caller.rawValue),
        ]
        if let request {
            fields["request"] = ["session": .string(request.session), "id": .int64(Int64(request.id))]
        }
        return ValueCodec.encode(.object(fields))
    }

    public init(decoding bytes: [UInt8]) throws {
        let value = try ValueCodec.decode(bytes)
        guard let path = value["path"]?.stringValue, let args = value["args"]?.objectValue, let identity = value["identity"] else {
            throw ValueError("forwarded call is malformed")
        }
        guard let caller = Caller(rawValue: value["caller"]?.stringValue ?? "") else { throw ValueError("forwarded call names no caller") }
        var request: ClientRequest?
        if let fields = value["request"]?.objectValue {
            guard let session = fields["session"]?.stringValue, let id = fields["id"]?.int64Value.flatMap(UInt32.init(exactly:)) else {
                throw ValueError("forwarded call has a malformed request id")
            }
            request = ClientRequest(session: session, id: id)
        }
        self.init(path: path, args: args, identity: try Identity(value: identity), request: request, caller: caller)
    }
}

/// The writer's answer to a `ForwardedCall`.
public enum ForwardedOutcome: Sendable, Equatable {
    case committed(MutationResult)
    case failed(FunctionError)

    public var encoded: [UInt8] {
        switch self {
        case .committed(let result):
            return ValueCodec.encode(["ok": true, "value": result.value, "ts": .int64(result.ts.bitPattern)])
        case .failed(let error):
            var fields: [String: Value] = ["ok": false, "kind": .string(error.kind.wireName), "message": .string(error.message)]
            if let data = error.data { fields["data"] = data }
            return ValueCodec.encode(.object(fields))
        }
    }

    public init(decoding bytes: [UInt8]) throws {
        let value = try ValueCodec.decode(bytes)
        if value["ok"] == true, let ts = value["ts"]?.int64Value {
            self = .committed(MutationResult(value: value["value"] ?? .null, ts: CommitTimestamp(bitPattern: ts)))
        } else if let message = value["message"]?.stringValue {
            let kind = FunctionError.Kind(wireName: value["kind"]?.stringValue ?? "") ?? .thrown
            self = .failed(FunctionError(kind, message, data: value["data"]))
        } else {
            throw ValueError("forwarded outcome is malformed")
        }
    }
}

extension MutationResult: Equatable {
    public static func == (a: MutationResult, b: MutationResult) -> Bool { a.value == b.value && a.ts == b.ts }
}

extension FunctionError.Kind {
    var wireName: String {
        switch self {
        case .unknownFunction: "unknownFunction"
        case .invalidArguments: "invalidArguments"
        case .thrown: "thrown"
        case .invalidUse: "invalidUse"
        case .unavailable: "unavailable"
        }
    }

    init?(wireName: String) {
        switch wireName {
        case "unknownFunction": self = .unknownFunction
        case "invalidArguments": self = .invalidArguments
        case "thrown": self = .thrown
        case "invalidUse": self = .invalidUse
        case "unavailable": self = .unavailable
        default: return nil
        }
    }
}

extension Identity {
    /// The identity as a value, to travel with a forwarded call.
    public var value: Value {
        switch self {
        case .anonymous: return ["kind": "anonymous"]
        case .user(let user): return ["kind": "user", "fields": user.value]
        case .admin(let acting): return ["kind": "admin", "actingAs": acting?.value ?? .null]
        }
    }

    public init(value: Value) throws {
        switch value["kind"]?.stringValue {
        case "anonymous": self = .anonymous
        case "user":
            guard let fields = value["fields"]?.objectValue else { throw ValueError("user identity without fields") }
            self = .user(UserIdentity(fields: fields))
        case "admin":
            self = .admin(actingAs: value["actingAs"]?.objectValue.map(UserIdentity.init(fields:)))
        default: throw ValueError("unknown identity kind")
        }
    }
}

extension UserIdentity {
    /// Rebuilds an identity from its fields (as `value` produced them).
    init(fields: [String: Value]) {
        self.init(subject: fields["subject"]?.stringValue ?? "", issuer: fields["issuer"]?.stringValue ?? "", claims: fields)
    }
}
