/// `Value` fields in `Codable` types (a `v.any()` field, free-form arguments).
///
/// `ValueEncoder` and `ValueDecoder` pass the value through untouched. Other coders, such as
/// Foundation's `JSONEncoder`, see its Convex JSON form, so bigints, bytes and special floats
/// survive a trip through them as `{"$integer": …}`, `{"$bytes": …}` and `{"$float": …}`.
extension Value: Codable {
    public func encode(to encoder: any Encoder) throws {
        if let state = encoder as? EncodingState {
            state.node.set(self)
        } else {
            try ForeignJSON(json: convexJSON).encode(to: encoder)
        }
    }

    public init(from decoder: any Decoder) throws {
        if let state = decoder as? DecodingState {
            self = state.value
            return
        }
        let json = try ForeignJSON(from: decoder).json
        do {
            self = try Value(convexJSON: json)
        } catch {
            throw DecodingError.dataCorrupted(DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }
}

/// A `JSON` tree written to or read from another coder's containers.
private struct ForeignJSON: Codable {
    let json: JSON

    init(json: JSON) { self.json = json }

    func encode(to encoder: any Encoder) throws {
        switch json {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .int(let i):
            var c = encoder.singleValueContainer()
            try c.encode(i)
        case .number(let d):
            var c = encoder.singleValueContainer()
            try c.encode(d)
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(ForeignJSON(json: item)) }
        case .object(let fields):
            var c = encoder.container(keyedBy: ValueCodingKey.self)
            for (key, value) in fields { try c.encode(ForeignJSON(json: value), forKey: ValueCodingKey(stringValue: key)) }
        }
    }

    init(from decoder: any Decoder) throws {
        if let c = try? decoder.container(keyedBy: ValueCodingKey.self) {
            json = .object(try c.allKeys.map { ($0.stringValue, try c.decode(ForeignJSON.self, forKey: $0).json) })
        } else if var c = try? decoder.unkeyedContainer() {
            var items: [JSON] = []
            while !c.isAtEnd { items.append(try c.decode(ForeignJSON.self).json) }
            json = .array(items)
        } else {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                json = .null
            } else if let b = try? c.decode(Bool.self) {
                json = .bool(b)
            } else if let d = try? c.decode(Double.self) {
                json = .number(d)
            } else {
                json = .string(try c.decode(String.self))
            }
        }
    }
}
