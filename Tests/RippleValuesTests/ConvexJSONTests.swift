import Testing

@testable import RippleValues

@Suite struct ConvexJSONTests {
    static func text(_ value: Value) -> String { value.convexJSON.serialized() }

    static func decode(_ text: String) throws -> Value { try Value(convexJSON: JSON.parse(text)) }

    @Test(arguments: [
        (Value.null, "null"),
        (.boolean(true), "true"),
        (.boolean(false), "false"),
        (.string("a\"b"), #""a\"b""#),
        (.float64(5), "5.0"),
        (.float64(-1.5), "-1.5"),
        (.float64(0), "0.0"),
        (.float64(1e-7), "1e-07"),
        (.float64(.nan), #"{"$float":"AAAAAAAA+H8="}"#),
        (.float64(.infinity), #"{"$float":"AAAAAAAA8H8="}"#),
        (.float64(-.infinity), #"{"$float":"AAAAAAAA8P8="}"#),
        (.float64(-0.0), #"{"$float":"AAAAAAAAAIA="}"#),
        (.int64(1), #"{"$integer":"AQAAAAAAAAA="}"#),
        (.int64(-1), #"{"$integer":"//////////8="}"#),
        (.int64(42), #"{"$integer":"KgAAAAAAAAA="}"#),
        (.int64(0), #"{"$integer":"AAAAAAAAAAA="}"#),
        (.int64(.min), #"{"$integer":"AAAAAAAAAIA="}"#),
        (.int64(.max), #"{"$integer":"/////////38="}"#),
        (.bytes([1, 2, 3]), #"{"$bytes":"AQID"}"#),
        (.bytes([]), #"{"$bytes":""}"#),
        (.bytes([0xFB, 0xFF]), #"{"$bytes":"+/8="}"#),
        (.array([]), "[]"),
        (.array([1, "x", .null, [.int64(1)]]), #"[1.0,"x",null,[{"$integer":"AQAAAAAAAAA="}]]"#),
        (.object([:]), "{}"),
        (.object(["b": 1, "a": ["_c": .bytes([0])], "B": true]), #"{"B":true,"a":{"_c":{"$bytes":"AA=="}},"b":1.0}"#),
    ])
    func wireForm(value: Value, expected: String) throws {
        #expect(Self.text(value) == expected)
        #expect(try Self.decode(expected) == value)
    }

    @Test func plainNumbersAreFloat64() throws {
        #expect(try Self.decode("5") == .float64(5))
        #expect(try Self.decode("-0.0") == .float64(-0.0))
        #expect(try Self.decode("9007199254740993") == .float64(9_007_199_254_740_992))
        #expect(try Self.decode("[1, 2.5e1]") == [1, 25])
    }

    @Test func roundTripsRandomValues() throws {
        var gen = RandomValues(seed: 99, validFieldNames: true)
        for _ in 0..<1500 {
            let value = gen.value()
            let text = Self.text(value)
            #expect(try Self.decode(text) == value, "\(text)")
        }
    }

    @Test func roundTripsEveryTypeNested() throws {
        let value: Value = [
            "null": .null, "int": .int64(.min), "max": .int64(.max), "nan": .float64(.nan), "inf": .float64(.infinity),
            "ninf": .float64(-.infinity), "nzero": .float64(-0.0), "pi": 3.14159, "t": true, "s": "\0é😀\n",
            "bytes": .bytes(Array(0...255)), "list": [[[.object(["deep": .bytes([0xFF])])]]], "empty": [:],
        ]
        #expect(try Self.decode(Self.text(value)) == value)
    }

    @Test(arguments: [
        (#"{"$integer":"AQAA"}"#, "`$integer` at . must be 8 bytes of base64"),
        (#"{"$integer":"AQAAAAAAAAAA"}"#, "must be 8 bytes"),
        (#"{"$integer":"not base64!"}"#, "must be 8 bytes"),
        (#"{"$integer":1}"#, "must hold a base64 string"),
        (#"{"$bytes":"***"}"#, "`$bytes` at . is not valid base64"),
        (#"{"$bytes":"AQI"}"#, "not valid base64"),
        (#"{"$bytes":null}"#, "must hold a base64 string"),
        (#"{"$float":"AAAAAAAA8D8="}"#, "must be sent as a plain JSON number"),
        (#"{"$float":"AAAAAAAAAAA="}"#, "must be sent as a plain JSON number"),
        (#"{"$float":"AAAA"}"#, "must be 8 bytes"),
        (#"{"$set":[]}"#, "starts with `$`"),
        (#"{"$map":[]}"#, "starts with `$`"),
        (#"{"$foo":"x"}"#, "starts with `$`"),
        (#"{"a":1,"$b":2}"#, "Field name `$b` at path . starts with `$`"),
        (#"{"$bytes":"AQID","x":1}"#, "Field name `$bytes`"),
        (#"{"a":{"b":[1,{"$x":1,"y":2}]}}"#, "at path .a.b[1]"),
        (#"[{"ok":1},{"$integer":"AQAA"}]"#, "`$integer` at [1]"),
        (#"{"":1}"#, "Empty field name"),
        (#"{"é":1}"#, "printable ASCII"),
        (#"{"a\u0001":1}"#, "printable ASCII"),
        (#"{"a":1,"a":2}"#, "Duplicate field `a`"),
    ])
    func rejectsBadInput(text: String, message: String) {
        let error = #expect(throws: ValueError.self) { try Self.decode(text) }
        #expect(error?.message.contains(message) == true, "\(text): \(error?.message ?? "no error")")
    }

    @Test func fieldNameLengthLimit() throws {
        let ok = String(repeating: "k", count: 1024)
        #expect(try Self.decode("{\"\(ok)\":1}") == .object([ok: 1]))
        let long = ok + "k"
        let error = #expect(throws: ValueError.self) { try Self.decode("{\"\(long)\":1}") }
        #expect(error?.message.contains("longer than 1024 characters") == true)
    }

    @Test func underscoreFieldsAreLegalInValues() throws {
        #expect(try Self.decode(#"{"_id":"x","_creationTime":1.5}"#) == ["_id": "x", "_creationTime": 1.5])
    }

    @Test func cleanJSON() {
        let value: Value = [
            "i": .int64(-7), "b": .bytes([1, 2, 3]), "nan": .float64(.nan), "inf": .float64(.infinity),
            "ninf": .float64(-.infinity), "f": 2, "list": [.null, true],
        ]
        #expect(
            value.cleanJSON.serialized()
                == #"{"b":"AQID","f":2.0,"i":"-7","inf":"Infinity","list":[null,true],"nan":"NaN","ninf":"-Infinity"}"#
        )
    }

    @Test func wireTimestamps() {
        #expect(WireTimestamp.encode(1) == "AQAAAAAAAAA=")
        for ts: UInt64 in [0, 1, 1_700_000_000_000_000_000, .max] {
            #expect(WireTimestamp.decode(WireTimestamp.encode(ts)) == ts)
        }
        #expect(WireTimestamp.decode("AQAA") == nil)
        #expect(WireTimestamp.decode("!") == nil)
    }
}
