import RippleTestSupport
import Testing

@testable import RippleValues

@Suite struct JSONTests {
    @Test func parsesScalars() throws {
        #expect(try JSON.parse("null") == .null)
        #expect(try JSON.parse(" true ") == .bool(true))
        #expect(try JSON.parse("false") == .bool(false))
        #expect(try JSON.parse("0") == .int(0))
        #expect(try JSON.parse("-12") == .int(-12))
        #expect(try JSON.parse("5.0") == .number(5))
        #expect(try JSON.parse("-0.5") == .number(-0.5))
        #expect(try JSON.parse("1e2") == .number(100))
        #expect(try JSON.parse("1E-2") == .number(0.01))
        #expect(try JSON.parse("2.5e+3") == .number(2500))
        #expect(try JSON.parse("9223372036854775807") == .int(.max))
        #expect(try JSON.parse("-9223372036854775808") == .int(.min))
        #expect(try JSON.parse("9223372036854775808") == .number(9_223_372_036_854_775_808))
        #expect(try JSON.parse("\"hi\"") == .string("hi"))
    }

    @Test func parsesContainersKeepingFieldOrder() throws {
        let json = try JSON.parse(#" { "b" : [1, 2.5, {"x": null}], "a": {} , "c": [] } "#)
        #expect(json == .object([("b", .array([.int(1), .number(2.5), .object([("x", .null)])])), ("a", .object([])), ("c", .array([]))]))
        #expect(json != .object([("a", .object([])), ("b", .array([])), ("c", .array([]))]))
        #expect(json["a"] == .object([]))
        #expect(json["zz"] == nil)
        #expect(json["b"]?.arrayValue?.count == 3)
        #expect(json.serialized() == #"{"b":[1,2.5,{"x":null}],"a":{},"c":[]}"#)
    }

    @Test func parsesEscapes() throws {
        #expect(try JSON.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try JSON.parse(#""\u0041\u00e9\u00E9""#) == .string("Aéé"))
        #expect(try JSON.parse(#""a\u0000b""#) == .string("a\0b"))
        #expect(try JSON.parse(#""x\u20acy""#) == .string("x€y"))
    }

    @Test func parsesUnicodeAndSurrogatePairs() throws {
        #expect(try JSON.parse("\"héllo 😀 日本\"") == .string("héllo 😀 日本"))
        #expect(try JSON.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSON.parse(#""a\uD834\uDD1Eb""#) == .string("a𝄞b"))
        // Escaped and raw forms may mix.
        #expect(try JSON.parse(#""é\n😀\u00e9""#) == .string("é\n😀é"))
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("   ", "unexpected end of input"),
        ("{", "expected a field name"),
        ("[1,", "unexpected end of input"),
        ("[1,]", "unexpected character"),
        ("[1 2]", "expected ',' or ']'"),
        (#"{"a" 1}"#, "expected ':'"),
        (#"{"a":1,}"#, "expected a field name"),
        (#"{"a":1 "b":2}"#, "expected ',' or '}'"),
        ("{1:2}", "expected a field name"),
        ("tru", "unexpected end of input"),
        ("trUe", "invalid literal"),
        ("nul", "unexpected end of input"),
        ("01", "unexpected trailing characters"),
        ("1.", "invalid number"),
        (".5", "unexpected character"),
        ("-", "invalid number"),
        ("-a", "invalid number"),
        ("1e", "invalid number"),
        ("1e+", "invalid number"),
        ("+1", "unexpected character"),
        ("NaN", "unexpected character"),
        ("Infinity", "unexpected character"),
        ("1e400", "out of range"),
        ("-1e400", "out of range"),
        ("'a'", "unexpected character"),
        ("\"abc", "unterminated string"),
        ("\"abc\\", "unterminated string"),
        (#""\x""#, "invalid escape"),
        (#""\u12""#, "unexpected end of input"),
        (#""\u12g4""#, #"invalid \u escape"#),
        ("\"a\u{1}b\"", "control character in string"),
        ("\"a\nb\"", "control character in string"),
        (#""\ud83d""#, "unpaired surrogate"),
        (#""\ud83dx""#, "unpaired surrogate"),
        (#""\ud83d\u0041""#, "unpaired surrogate"),
        (#""\ude00""#, "unpaired surrogate"),
        ("1 2", "unexpected trailing characters"),
        ("[1] x", "unexpected trailing characters"),
    ])
    func rejectsMalformedInput(text: String, message: String) {
        let error = #expect(throws: JSONParseError.self) { try JSON.parse(text) }
        #expect(error?.message.contains(message) == true, "\(text): \(error?.message ?? "no error")")
    }

    @Test func rejectsInvalidUTF8() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0x5C, 0x6E, 0xED, 0xA0, 0x80, 0x22]] {
            let error = #expect(throws: JSONParseError.self) { try JSON.parse(bytes) }
            #expect(error?.message == "invalid UTF-8 in string")
        }
        #expect(parseFailure { try JSON.parse([0xEF, 0xBB, 0xBF, 0x31]) } == "JSONParseError: invalid JSON at byte 0: unexpected character 'ï'")
    }

    @Test func errorsCarryTheOffset() {
        let error = #expect(throws: JSONParseError.self) { try JSON.parse(#"{"a": [1, 2, x]}"#) }
        #expect(error?.offset == 13)
        #expect(error?.description == "invalid JSON at byte 13: unexpected character 'x'")
    }

    @Test func limitsDepth() throws {
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try JSON.parse(ok) }
        let deep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        let error = #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
        #expect(error?.message == "nesting deeper than 128")

        #expect(throws: Never.self) { try JSON.parse(#"{"a":{"b":[1]}}"#, maxDepth: 3) }
        #expect(parseFailure { try JSON.parse(#"{"a":{"b":[[1]]}}"#, maxDepth: 3) } == "JSONParseError: invalid JSON at byte 11: nesting deeper than 3")
        #expect(parseFailure { try JSON.parse(#"{"a":{"b":{"c":1}}}"#, maxDepth: 2) } == "JSONParseError: invalid JSON at byte 10: nesting deeper than 2")
        // Hostile input fails cleanly instead of exhausting the stack.
        #expect(parseFailure { try JSON.parse(String(repeating: "[", count: 200_000)) } == "JSONParseError: invalid JSON at byte 128: nesting deeper than 128")
        #expect(parseFailure { try JSON.parse(String(repeating: #"{"a":"#, count: 100_000)) } == "JSONParseError: invalid JSON at byte 640: nesting deeper than 128")
    }

    @Test func serializesStringsWithEscapes() {
        #expect(JSON.string("plain").serialized() == #""plain""#)
        #expect(JSON.string("q\"b\\s/").serialized() == #""q\"b\\s/""#)
        #expect(JSON.string("\n\r\t\u{8}\u{C}").serialized() == #""\n\r\t\u0008\u000c""#)
        #expect(JSON.string("a\0b\u{1F}").serialized() == #""a\u0000b\u001f""#)
        #expect(JSON.string("é😀\u{7F}").serialized() == "\"é😀\u{7F}\"")
        #expect(JSON.object([("k\"ey", .null)]).serialized() == #"{"k\"ey":null}"#)
    }

    @Test func serializesDoublesWithADecimalPointOrExponent() {
        #expect(JSON.number(5).serialized() == "5.0")
        #expect(JSON.number(-5).serialized() == "-5.0")
        #expect(JSON.number(0).serialized() == "0.0")
        #expect(JSON.number(-0.0).serialized() == "-0.0")
        #expect(JSON.number(0.1).serialized() == "0.1")
        #expect(JSON.number(1e-5).serialized() == "1e-05")
        #expect(JSON.number(1.5e300).serialized() == "1.5e+300")
        #expect(JSON.number(1e16).serialized() == "1e+16")
        #expect(JSON.int(5).serialized() == "5")
        #expect(JSON.int(.min).serialized() == "-9223372036854775808")
        for d in [5.0, 1e16, 1e-5, 1.5e300, 0.1, .leastNonzeroMagnitude, .greatestFiniteMagnitude] {
            let text = JSON.number(d).serialized()
            #expect(text.contains(".") || text.contains("e"), "\(text)")
        }
    }

    @Test func roundTripsRandomDoublesExactly() throws {
        var rng = SeededRandom(seed: 3)
        for _ in 0..<2000 {
            let d = Double(bitPattern: rng.next())
            guard d.isFinite else { continue }
            #expect(try JSON.parse(JSON.number(d).serialized()) == .number(d), "\(d)")
        }
    }

    @Test func roundTripsRandomDocuments() throws {
        var gen = RandomValues(seed: 11, validFieldNames: true)
        for _ in 0..<500 {
            let json = gen.value().convexJSON
            let text = json.serialized()
            #expect(try JSON.parse(text) == json, "\(text)")
            #expect(try JSON.parse(json.serializedBytes()) == json)
        }
        let strings = ["", "\0", "\u{1}\u{1F}\u{20}", "\"\\", "😀é\u{FFFF}\u{10FFFF}", "\u{2028}\u{2029}"]
        for s in strings {
            #expect(try JSON.parse(JSON.string(s).serialized()) == .string(s))
        }
    }

    @Test func intValueAcceptsIntegralNumbers() {
        #expect(JSON.int(3).intValue == 3)
        #expect(JSON.number(3).intValue == 3)
        #expect(JSON.number(3.5).intValue == nil)
        #expect(JSON.number(1e19).intValue == nil)
        #expect(JSON.string("3").intValue == nil)
        #expect(JSON.null.isNull)
        #expect(JSON.string("s").stringValue == "s")
    }
}

/// What parsing threw, as it prints (a `JSONParseError` names the byte and the mistake), or nil.
private func parseFailure(_ parse: () throws -> JSON) -> String? {
    do {
        _ = try parse()
        return nil
    } catch {
        return "\(type(of: error)): \(error)"
    }
}
