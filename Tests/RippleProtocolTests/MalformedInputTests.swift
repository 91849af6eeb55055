import RippleValues
import Testing

@testable import RippleProtocol

func serverError(_ text: String) -> ProtocolError? {
    do {
        _ = try ServerMessage.parse(text)
        return nil
    } catch {
        return error
    }
}

/// Hostile and broken frames: each must give a `ProtocolError`, never a trap.
@Suite struct MalformedInputTests {
    @Test func notJSON() {
        for text in ["", "   ", "{", "{\"type\":", "nul", "{'type':'Connect'}", "{\"type\":\"Ping\"} trailing", "\u{FEFF}{}", "[1,]"] {
            guard case .invalidJSON = clientError(text) else {
                Issue.record("expected invalidJSON for \(text)")
                continue
            }
            guard case .invalidJSON = serverError(text) else {
                Issue.record("expected invalidJSON for \(text)")
                continue
            }
        }
    }

    @Test func invalidUTF8() {
        let bytes: [UInt8] = Array(#"{"type":""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
        #expect(throws: ProtocolError.self) { try ClientMessage.parse(utf8: bytes) }
    }

    @Test func notAnObject() {
        #expect(clientError("[]") == .notAnObject(found: "an empty array"))
        #expect(clientError("[{\"type\":\"Connect\"}]") == .notAnObject(found: "an array"))
        #expect(clientError("null") == .notAnObject(found: "null"))
        #expect(clientError("42") == .notAnObject(found: "42"))
        #expect(clientError("\"Connect\"") == .notAnObject(found: "a string"))
        #expect(serverError("true") == .notAnObject(found: "true"))
    }

    @Test func missingOrUnknownType() {
        #expect(clientError("{}") == .missingType)
        #expect(clientError(#"{"type":null}"#) == .missingType)
        #expect(clientError(#"{"type":3}"#) == .missingType)
        #expect(clientError(#"{"Type":"Connect"}"#) == .missingType)
        #expect(clientError(#"{"type":"connect"}"#) == .unknownType("connect"))
        #expect(clientError(#"{"type":"Transition"}"#) == .unknownType("Transition"))
        #expect(serverError(#"{"type":"Mutation"}"#) == .unknownType("Mutation"))
        #expect(
            serverError(#"{"type":"TransitionChunk","chunk":"","partNumber":0,"totalParts":1,"transitionId":"t"}"#) == .unknownType("TransitionChunk")
        )
    }

    @Test func missingFields() {
        #expect(clientError(#"{"type":"Connect","connectionCount":0}"#) == .missingField(message: "Connect", field: "sessionId"))
        #expect(
            clientError(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1}"#)
                == .missingField(message: "ModifyQuerySet", field: "modifications"))
        #expect(
            clientError(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"a:b"}]}"#)
                == .missingField(message: "ModifyQuerySet", field: "modifications[0].args"))
        #expect(
            clientError(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Remove","queryId":0},{"queryId":1}]}"#)
                == .missingField(message: "ModifyQuerySet", field: "modifications[1].type"))
        #expect(clientError(#"{"type":"Mutation","requestId":0,"udfPath":"a:b"}"#) == .missingField(message: "Mutation", field: "args"))
        #expect(clientError(#"{"type":"Action","udfPath":"a:b","args":[{}]}"#) == .missingField(message: "Action", field: "requestId"))
        #expect(clientError(#"{"type":"Authenticate","baseVersion":0}"#) == .missingField(message: "Authenticate", field: "tokenType"))
        #expect(clientError(#"{"type":"Authenticate","baseVersion":0,"tokenType":"User"}"#) == .missingField(message: "Authenticate", field: "value"))
        #expect(clientError(#"{"type":"Event","event":{}}"#) == .missingField(message: "Event", field: "eventType"))

        #expect(
            serverError(#"{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"AAAAAAAAAAA="}"#)
                == .missingField(message: "MutationResponse", field: "logLines"))
        #expect(
            serverError(#"{"type":"ActionResponse","requestId":0,"success":true,"logLines":[]}"#)
                == .missingField(message: "ActionResponse", field: "result"))
        #expect(
            serverError(#"{"type":"Transition","startVersion":{"querySet":0,"identity":0},"endVersion":{},"modifications":[]}"#)
                == .missingField(message: "Transition", field: "startVersion.ts"))
        #expect(
            serverError(
                #"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryUpdated","queryId":0,"logLines":[]}]}"#
            )
                == .missingField(message: "Transition", field: "modifications[0].value"))
    }

    @Test func idsAndVersionsMustBeU32IntegerLiterals() {
        let bad: [(String, String)] = [
            ("-1", "-1"), ("4294967296", "4294967296"), ("1.0", "1.0"), ("1e3", "1000.0"), ("99999999999999999999999", "1e+23"),
            ("\"1\"", "a string"), ("null", "null"), ("true", "true"), ("[1]", "an array"),
        ]
        for (literal, found) in bad {
            #expect(
                clientError(#"{"type":"Mutation","requestId":\#(literal),"udfPath":"a:b","args":[{}]}"#)
                    == .invalidField(message: "Mutation", field: "requestId", expected: "a non-negative integer that fits in 32 bits", found: found))
            #expect(
                clientError(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Remove","queryId":\#(literal)}]}"#)
                    == .invalidField(
                        message: "ModifyQuerySet", field: "modifications[0].queryId", expected: "a non-negative integer that fits in 32 bits",
                        found: found))
            #expect(clientError(#"{"type":"Authenticate","baseVersion":\#(literal),"tokenType":"None"}"#) != nil)
            #expect(clientError(#"{"type":"Connect","sessionId":"s","connectionCount":\#(literal)}"#) != nil)
        }
        #expect(clientError(#"{"type":"Mutation","requestId":4294967295,"udfPath":"a:b","args":[{}]}"#) == nil)
    }

    @Test func illTypedFields() {
        #expect(
            clientError(#"{"type":"Connect","sessionId":7,"connectionCount":0}"#)
                == .invalidField(message: "Connect", field: "sessionId", expected: "a string", found: "7"))
        #expect(
            clientError(#"{"type":"Connect","sessionId":"s","connectionCount":0,"lastCloseReason":5}"#)
                == .invalidField(message: "Connect", field: "lastCloseReason", expected: "a string or null", found: "5"))
        #expect(
            clientError(#"{"type":"Connect","sessionId":"s","connectionCount":0,"clientTs":1.5}"#)
                == .invalidField(message: "Connect", field: "clientTs", expected: "an integer or null", found: "1.5"))
        #expect(
            clientError(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":{}}"#)
                == .invalidField(message: "ModifyQuerySet", field: "modifications", expected: "an array", found: "an object"))
        #expect(
            clientError(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[7]}"#)
                == .invalidField(message: "ModifyQuerySet", field: "modifications[0]", expected: "an object", found: "7"))
        #expect(
            clientError(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Replace","queryId":0}]}"#)
                == .invalidField(message: "ModifyQuerySet", field: "modifications[0].type", expected: "\"Add\" or \"Remove\"", found: "\"Replace\""))
        #expect(
            clientError(#"{"type":"Authenticate","baseVersion":0,"tokenType":"Bearer","value":"x"}"#)
                == .invalidField(message: "Authenticate", field: "tokenType", expected: "\"User\", \"Admin\" or \"None\"", found: "\"Bearer\""))
        #expect(
            serverError(#"{"type":"MutationResponse","requestId":0,"success":"yes","result":null,"logLines":[]}"#)
                == .invalidField(message: "MutationResponse", field: "success", expected: "a boolean", found: "a string"))
        #expect(
            serverError(#"{"type":"ActionResponse","requestId":0,"success":false,"result":{},"logLines":[]}"#)
                == .invalidField(message: "ActionResponse", field: "result", expected: "a string", found: "an object"))
        #expect(
            serverError(#"{"type":"ActionResponse","requestId":0,"success":true,"result":1.0,"logLines":[1]}"#)
                == .invalidField(message: "ActionResponse", field: "logLines[0]", expected: "a string", found: "1"))
    }

    @Test func timestampsMustBeEightBytesOfBase64() {
        for bad in [#""""#, #""AAAA""#, #""AAAAAAAAAAAAAAAA""#, #""not base64!""#, #""AAAAAAAAAAA""#, "5", #""////////////""#] {
            let text = #"{"type":"Connect","sessionId":"s","connectionCount":0,"maxObservedTimestamp":\#(bad)}"#
            guard case .invalidField(_, "maxObservedTimestamp", _, _) = clientError(text) else {
                Issue.record("expected a bad timestamp error for \(bad)")
                continue
            }
        }
        // u64 above i64::MAX is refused, as the Rust client and server refuse it.
        let tooLarge = WireTimestamp.encode(UInt64(Int64.max) + 1)
        #expect(clientError(#"{"type":"Connect","sessionId":"s","connectionCount":0,"maxObservedTimestamp":"\#(tooLarge)"}"#) != nil)
        #expect(
            serverError(#"{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":null,"logLines":[]}"#)
                == .invalidField(
                    message: "MutationResponse", field: "ts", expected: "a timestamp: base64 of 8 little-endian bytes, at most 2^63-1", found: "null")
        )
    }

    @Test func argsMustBeOneObject() {
        let cases: [(String, String)] = [
            ("[]", "got an empty array"), ("[{},{}]", "got an array of 2 elements"), ("[1]", "got an array holding 1"),
            ("[[]]", "got an array holding an empty array"), ("\"x\"", "got a string"), ("null", "got null"),
            (#"[{"$integer":"AQAAAAAAAAA="}]"#, "got an encoded bigint"),
        ]
        for (args, ending) in cases {
            let error = clientError(#"{"type":"Mutation","requestId":0,"udfPath":"a:b","args":\#(args)}"#)
            guard case .invalidValue("Mutation", "args", let reason) = error else {
                Issue.record("expected invalid args for \(args), got \(String(describing: error))")
                continue
            }
            #expect(reason.hasPrefix("must be an array holding exactly one object"))
            #expect(reason.hasSuffix(ending), "\(reason)")
        }
        let add =
            #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"a:b","args":[1,2]}]}"#
        guard case .invalidValue("ModifyQuerySet", "modifications[0].args", _) = clientError(add) else {
            Issue.record("expected invalid args in Add")
            return
        }
    }

    @Test func argsMustBeValidConvexJSON() {
        for args in [#"[{"$set":[]}]"#, #"[{"a":{"$bytes":"!!"}}]"#, #"[{"a":{"$float":"AAAAAAAA8D8="}}]"#, #"[{"a":{"$b":1,"c":2}}]"#] {
            let error = clientError(#"{"type":"Mutation","requestId":0,"udfPath":"a:b","args":\#(args)}"#)
            guard case .invalidValue("Mutation", "args", let reason) = error else {
                Issue.record("expected invalid Convex JSON for \(args), got \(String(describing: error))")
                continue
            }
            #expect(reason.hasPrefix("is not valid Convex JSON: "))
        }
        #expect(
            serverError(#"{"type":"ActionResponse","requestId":0,"success":true,"result":{"$integer":"AQ=="},"logLines":[]}"#) != nil)
    }

    @Test func badUdfPaths() {
        for path in ["", ":", "a:", ":b", "/abs:f", "a//b:f", "a/../b:f", "a:b:c", "a:1f", "mod.ts:f", "a b:f", "a:f-g", "__", "a:__"] {
            let text = #"{"type":"Mutation","requestId":0,"udfPath":"\#(path)","args":[{}]}"#
            guard case .invalidUdfPath(path, _) = clientError(text) else {
                Issue.record("expected invalid udf path for \(path)")
                continue
            }
        }
    }

    @Test func deepNestingIsRefused() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        guard case .invalidJSON = clientError(#"{"type":"Event","eventType":"E","event":\#(deep)}"#) else {
            Issue.record("expected invalidJSON for deep nesting")
            return
        }
    }

    @Test func descriptionsNameMessageFieldAndExpectation() {
        #expect(
            ProtocolError.invalidField(message: "Mutation", field: "requestId", expected: "a non-negative integer that fits in 32 bits", found: "-1")
                .description == "Invalid Mutation message: field `requestId` must be a non-negative integer that fits in 32 bits, got -1")
        #expect(
            ProtocolError.missingField(message: "Connect", field: "sessionId").description == "Invalid Connect message: missing field `sessionId`")
        #expect(ProtocolError.unknownType(String(repeating: "x", count: 1000)).description.count < 120)
        #expect(clientError("{").map(\.description)?.hasPrefix("Invalid message: not valid JSON (invalid JSON at byte") == true)
    }

    /// Every prefix and many byte mutations of valid frames: parsing must return or throw, never trap.
    @Test func truncatedAndMutatedFramesNeverTrap() {
        let samples = [
            #"{"type":"Connect","sessionId":"6f1c2a57-0b7e-4a5e-9f3e-2b8c1d4e5f60","connectionCount":1,"lastCloseReason":"InactiveServer","maxObservedTimestamp":"Fc1V9VFyhhg=","clientTs":1767225600123}"#,
            #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{"channel":"general","n":{"$integer":"KgAAAAAAAAA="}}],"journal":null},{"type":"Remove","queryId":4}]}"#,
            #"{"type":"Authenticate","baseVersion":1,"tokenType":"Admin","value":"k","impersonating":{"subject":"u1"}}"#,
            #"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"Fc1V9VFyhhg="},"modifications":[{"type":"QueryFailed","queryId":0,"errorMessage":"e","logLines":[],"journal":null,"errorData":{"$bytes":"AAE="}}],"clientClockSkew":null,"serverTs":null}"#,
        ]
        let replacements = Array(#"{}[]",:0-19e.\"x$ "#.utf8) + [0x00, 0xFF, 0xC3]
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return seed >> 33
        }
        var outcomes = 0
        for sample in samples {
            let bytes = Array(sample.utf8)
            for end in 0...bytes.count {
                _ = try? ClientMessage.parse(utf8: bytes[..<end])
                _ = try? ServerMessage.parse(utf8: bytes[..<end])
                outcomes += 1
            }
            for _ in 0..<2000 {
                var mutated = bytes
                for _ in 0..<(1 + Int(next() % 3)) {
                    let position = Int(next() % UInt64(mutated.count))
                    mutated[position] = replacements[Int(next() % UInt64(replacements.count))]
                }
                _ = try? ClientMessage.parse(utf8: mutated)
                _ = try? ServerMessage.parse(utf8: mutated)
                outcomes += 1
            }
        }
        #expect(outcomes > 8000)
    }
}
