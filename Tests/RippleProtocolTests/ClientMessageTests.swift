import RippleValues
import Testing

@testable import RippleProtocol

func clientError(_ text: String) -> ProtocolError? {
    do {
        _ = try ClientMessage.parse(text)
        return nil
    } catch {
        return error
    }
}

@Suite struct ClientMessageTests {
    @Test func roundTripsEveryMessageType() throws {
        let args: Value = [
            "n": 1.5, "big": .int64(-1), "bytes": .bytes([0xFF, 0]), "nan": .float64(.nan), "negZero": .float64(-0.0),
            "nested": ["list": [.null, true, "ü∑ \"quoted\"\n"]],
        ]
        let messages: [ClientMessage] = [
            .connect(Connect(sessionId: "s", connectionCount: 0, lastCloseReason: "InitialConnect")),
            .connect(Connect(sessionId: "s", connectionCount: 3, lastCloseReason: nil, maxObservedTimestamp: 0, clientTs: 0)),
            .connect(Connect(sessionId: "s", connectionCount: UInt32.max, maxObservedTimestamp: UInt64(Int64.max), clientTs: -5)),
            .modifyQuerySet(baseVersion: 0, newVersion: 1, modifications: []),
            .modifyQuerySet(
                baseVersion: 4, newVersion: 5,
                modifications: [
                    .add(queryId: 9, udfPath: "dir/messages:list", args: args, journal: "opaque", componentPath: nil),
                    .add(queryId: 10, udfPath: "a:default", args: [:], journal: nil, componentPath: "c/d"),
                    .remove(queryId: 2),
                ]),
            .mutation(requestId: 0, udfPath: "messages:send", args: args, componentPath: nil),
            .mutation(requestId: UInt32.max, udfPath: "messages:send", args: [:], componentPath: "comp"),
            .action(requestId: 1, udfPath: "actions/ai:run", args: ["prompt": "hi"], componentPath: nil),
            .authenticate(baseVersion: 0, token: .user("eyJ.jwt")),
            .authenticate(baseVersion: 1, token: .admin("key", impersonating: nil)),
            .authenticate(baseVersion: 2, token: .admin("key", impersonating: .object([("subject", .string("u"))]))),
            .authenticate(baseVersion: 3, token: .none),
            .event(eventType: "ClientConnect", event: .null),
            .event(eventType: "X", event: .array([.int(1), .number(2.5), .string("s"), .bool(false)])),
        ]
        for message in messages {
            let text = message.serialized()
            #expect(try ClientMessage.parse(text) == message, "\(text)")
            #expect(try ClientMessage.parse(text).serialized() == text)
        }
    }

    @Test func udfPathsAreCanonicalised() throws {
        let spellings = ["messages.js:list", "messages:list"]
        for path in spellings {
            let text = #"{"type":"Mutation","requestId":0,"udfPath":"\#(path)","args":[{}]}"#
            #expect(try ClientMessage.parse(text) == .mutation(requestId: 0, udfPath: "messages:list", args: [:], componentPath: nil))
        }
        let defaultExport =
            #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"dir/module","args":[{}]}]}"#
        guard case .modifyQuerySet(_, _, let modifications) = try ClientMessage.parse(defaultExport) else {
            Issue.record("not ModifyQuerySet")
            return
        }
        #expect(modifications == [.add(queryId: 0, udfPath: "dir/module:default", args: [:], journal: nil, componentPath: nil)])
    }

    @Test func argsMayBeABareObject() throws {
        let text = #"{"type":"Action","requestId":2,"udfPath":"a:b","args":{"x":{"$integer":"AQAAAAAAAAA="}}}"#
        #expect(try ClientMessage.parse(text) == .action(requestId: 2, udfPath: "a:b", args: ["x": .int64(1)], componentPath: nil))
    }

    @Test func argsNumbersAreFloat64() throws {
        let text = #"{"type":"Mutation","requestId":0,"udfPath":"a:b","args":[{"n":5}]}"#
        guard case .mutation(_, _, let args, _) = try ClientMessage.parse(text) else {
            Issue.record("not a Mutation")
            return
        }
        #expect(args == ["n": .float64(5)])
    }

    @Test func unknownFieldsAreIgnored() throws {
        let text =
            #"{"extra":[1,{"deep":null}],"type":"Connect","sessionId":"s","connectionCount":0,"lastCloseReason":null,"unknown":true}"#
        #expect(try ClientMessage.parse(text) == .connect(Connect(sessionId: "s", connectionCount: 0)))
        let add = #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Remove","queryId":1,"udfPath":7}],"x":1}"#
        #expect(try ClientMessage.parse(add) == .modifyQuerySet(baseVersion: 0, newVersion: 1, modifications: [.remove(queryId: 1)]))
    }

    @Test func connectOptionalFieldsMayBeAbsent() throws {
        let text = #"{"type":"Connect","sessionId":"s","connectionCount":2}"#
        #expect(try ClientMessage.parse(text) == .connect(Connect(sessionId: "s", connectionCount: 2)))
        // JS writes lastCloseReason even when null; absent optionals are left out.
        #expect(try ClientMessage.parse(text).serialized() == #"{"type":"Connect","sessionId":"s","connectionCount":2,"lastCloseReason":null}"#)
    }

    @Test func eventWithoutPayloadReadsAsNull() throws {
        #expect(try ClientMessage.parse(#"{"type":"Event","eventType":"E"}"#) == .event(eventType: "E", event: .null))
    }

    @Test func parsesFromBytes() throws {
        let bytes = Array(#"{"type":"Authenticate","baseVersion":0,"tokenType":"None"}"#.utf8)
        #expect(try ClientMessage.parse(utf8: bytes) == .authenticate(baseVersion: 0, token: .none))
        #expect(try ClientMessage.parse(utf8: bytes[...]) == .authenticate(baseVersion: 0, token: .none))
    }

    @Test func accessors() {
        #expect(QuerySetModification.remove(queryId: 4).queryId == 4)
        #expect(QuerySetModification.add(queryId: 5, udfPath: "a:b", args: [:], journal: nil, componentPath: nil).queryId == 5)
        #expect(ClientMessage.event(eventType: "E", event: .null).typeName == "Event")
    }
}
