import RippleValues

/// Reads the fields of one JSON object inside a message, naming the message type and the field
/// path in every error. Unknown fields are ignored, as the real server's serde structs do.
struct FieldReader {
    /// The message type, for errors (`"Mutation"`).
    let message: String
    /// The path of this object inside the message (`""` or `"modifications[2]"`).
    let prefix: String
    let fields: [(String, JSON)]

    init(_ json: JSON, message: String, at prefix: String = "") throws(ProtocolError) {
        guard case .object(let fields) = json else {
            if prefix.isEmpty { throw .notAnObject(found: describe(json)) }
            throw .invalidField(message: message, field: prefix, expected: "an object", found: describe(json))
        }
        self.message = message
        self.prefix = prefix
        self.fields = fields
    }

    func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    /// The field as sent; `nil` when absent (an explicit `null` is `.null`).
    func raw(_ key: String) -> JSON? {
        fields.first(where: { $0.0 == key })?.1
    }

    func required(_ key: String) throws(ProtocolError) -> JSON {
        guard let json = raw(key) else { throw .missingField(message: message, field: path(key)) }
        return json
    }

    func invalid(_ key: String, expected: String, found json: JSON) -> ProtocolError {
        .invalidField(message: message, field: path(key), expected: expected, found: describe(json))
    }

    /// A nested object.
    func object(_ key: String) throws(ProtocolError) -> FieldReader {
        try FieldReader(try required(key), message: message, at: path(key))
    }

    func string(_ key: String) throws(ProtocolError) -> String {
        let json = try required(key)
        guard case .string(let s) = json else { throw invalid(key, expected: "a string", found: json) }
        return s
    }

    /// Absent and `null` both read as `nil`.
    func optionalString(_ key: String) throws(ProtocolError) -> String? {
        guard let json = raw(key), !json.isNull else { return nil }
        guard case .string(let s) = json else { throw invalid(key, expected: "a string or null", found: json) }
        return s
    }

    func bool(_ key: String) throws(ProtocolError) -> Bool {
        let json = try required(key)
        guard case .bool(let b) = json else { throw invalid(key, expected: "a boolean", found: json) }
        return b
    }

    func optionalBool(_ key: String) throws(ProtocolError) -> Bool? {
        guard let json = raw(key), !json.isNull else { return nil }
        guard case .bool(let b) = json else { throw invalid(key, expected: "a boolean or null", found: json) }
        return b
    }

    /// Ids and versions: JSON integer literals in `0...UInt32.max`, as serde's `u32` demands.
    func u32(_ key: String) throws(ProtocolError) -> UInt32 {
        let json = try required(key)
        guard case .int(let i) = json, let value = UInt32(exactly: i) else {
            throw invalid(key, expected: "a non-negative integer that fits in 32 bits", found: json)
        }
        return value
    }

    func optionalU32(_ key: String) throws(ProtocolError) -> UInt32? {
        guard let json = raw(key), !json.isNull else { return nil }
        guard case .int(let i) = json, let value = UInt32(exactly: i) else {
            throw invalid(key, expected: "a non-negative integer that fits in 32 bits, or null", found: json)
        }
        return value
    }

    /// A 64-bit integer literal such as `clientTs` or `serverTs`; absent and `null` read as `nil`.
    func optionalInt64(_ key: String) throws(ProtocolError) -> Int64? {
        guard let json = raw(key), !json.isNull else { return nil }
        guard case .int(let i) = json else { throw invalid(key, expected: "an integer or null", found: json) }
        return i
    }

    /// A u64 timestamp as base64 of its 8 little-endian bytes (protocol.md §3.2), at most `Int64.max`
    /// because the Rust client and server reject larger ones.
    func timestamp(_ key: String) throws(ProtocolError) -> UInt64 {
        try decodeTimestamp(key, try required(key))
    }

    func optionalTimestamp(_ key: String) throws(ProtocolError) -> UInt64? {
        guard let json = raw(key), !json.isNull else { return nil }
        return try decodeTimestamp(key, json)
    }

    private func decodeTimestamp(_ key: String, _ json: JSON) throws(ProtocolError) -> UInt64 {
        let expected = "a timestamp: base64 of 8 little-endian bytes, at most 2^63-1"
        guard case .string(let text) = json else { throw invalid(key, expected: expected, found: json) }
        guard let ts = WireTimestamp.decode(text), ts <= UInt64(Int64.max) else {
            throw ProtocolError.invalidField(message: message, field: path(key), expected: expected, found: excerpt(text, limit: 24))
        }
        return ts
    }

    func array(_ key: String) throws(ProtocolError) -> [JSON] {
        let json = try required(key)
        guard case .array(let items) = json else { throw invalid(key, expected: "an array", found: json) }
        return items
    }

    /// `logLines`: required by the Rust client on every response and query result.
    func stringArray(_ key: String) throws(ProtocolError) -> [String] {
        var strings: [String] = []
        for (index, item) in try array(key).enumerated() {
            guard case .string(let s) = item else { throw invalid("\(key)[\(index)]", expected: "a string", found: item) }
            strings.append(s)
        }
        return strings
    }

    /// A Convex-JSON value (§5).
    func value(_ key: String) throws(ProtocolError) -> Value {
        try decodeValue(key, try required(key))
    }

    /// Absent reads as `nil`; an explicit `null` is the value `.null` (clients treat it as ConvexError data).
    func optionalValue(_ key: String) throws(ProtocolError) -> Value? {
        guard let json = raw(key) else { return nil }
        return try decodeValue(key, json)
    }

    private func decodeValue(_ key: String, _ json: JSON) throws(ProtocolError) -> Value {
        do {
            return try Value(convexJSON: json)
        } catch {
            throw .invalidValue(message: message, field: path(key), reason: "is not valid Convex JSON: \(error.message)")
        }
    }

    /// Function arguments: an array holding exactly one Convex-JSON object, as every client sends
    /// them; a bare object is accepted too, as the HTTP API does. Returns the object.
    func args(_ key: String) throws(ProtocolError) -> Value {
        let json = try required(key)
        let object: JSON
        switch json {
        case .object:
            object = json
        case .array(let items) where items.count == 1:
            guard case .object = items[0] else {
                throw argsShapeError(key, found: "an array holding \(describe(items[0]))")
            }
            object = items[0]
        case .array(let items) where items.count > 1:
            throw argsShapeError(key, found: "an array of \(items.count) elements")
        default:
            throw argsShapeError(key, found: describe(json))
        }
        let args = try decodeValue(key, object)
        guard case .object = args else { throw argsShapeError(key, found: "an encoded \(args.typeName)") }
        return args
    }

    private func argsShapeError(_ key: String, found: String) -> ProtocolError {
        .invalidValue(message: message, field: path(key), reason: "must be an array holding exactly one object (the arguments), got \(found)")
    }

    /// A function path, returned in canonical form (see `UdfPath`).
    func udfPath(_ key: String) throws(ProtocolError) -> String {
        try UdfPath.canonical(try string(key))
    }
}
