import RippleValues
import Testing

@testable import RippleProtocol

@Suite struct ServerMessageTests {
    @Test func roundTripsEveryMessageType() throws {
        let value: Value = [
            "int": .int64(Int64.min), "inf": .float64(.infinity), "negInf": .float64(-.infinity), "nan": .float64(.nan),
            "negZero": .float64(-0.0), "whole": 5, "bytes": .bytes([]), "s": "line\nbreak \u{1F600}", "list": [.null, false],
        ]
        let version = StateVersion(querySet: 3, identity: 1, ts: 1_767_225_600_123_456_789)
        let messages: [ServerMessage] = [
            .transition(Transition(startVersion: .initial, endVersion: version)),
            .transition(
                Transition(
                    startVersion: version, endVersion: StateVersion(querySet: UInt32.max, identity: UInt32.max, ts: UInt64(Int64.max)),
                    modifications: [
                        .queryUpdated(queryId: 0, value: value, logLines: ["[LOG] 'a'", "[WARN] b"], journal: "journal"),
                        .queryUpdated(queryId: 1, value: .null, logLines: [], journal: nil),
                        .queryFailed(queryId: 2, errorMessage: "boom", logLines: [], journal: nil, errorData: nil),
                        .queryFailed(queryId: 3, errorMessage: "typed", logLines: ["x"], journal: "j", errorData: value),
                        .queryRemoved(queryId: 4),
                    ],
                    clientClockSkew: -12, serverTs: 1_767_225_600_123_456_789)),
            .mutationResponse(.success(requestId: 0, result: .null, ts: 1, logLines: [])),
            .mutationResponse(.success(requestId: 9, result: value, ts: 0, logLines: ["[INFO] hi"])),
            .mutationResponse(.failure(requestId: 1, message: "[Request ID: abc] Server Error", errorData: nil, logLines: [])),
            .mutationResponse(.failure(requestId: 1, message: "m", errorData: .null, logLines: ["l"])),
            .actionResponse(.success(requestId: 2, result: ["ok": true], logLines: [])),
            .actionResponse(.failure(requestId: 3, message: "m", errorData: nil, logLines: [])),
            .actionResponse(.failure(requestId: 3, message: "m", errorData: ["code": .int64(7)], logLines: [])),
            .authError(error: "expired", baseVersion: 2, authUpdateAttempted: false),
            .authError(error: "bad token", baseVersion: nil, authUpdateAttempted: true),
            .fatalError(error: "Invalid Mutation message: missing field `args`"),
            .ping,
        ]
        for message in messages {
            let text = message.serialized()
            #expect(try ServerMessage.parse(text) == message, "\(text)")
            #expect(try ServerMessage.parse(text).serialized() == text)
        }
    }

    @Test func exactShapes() {
        #expect(
            ServerMessage.transition(Transition(startVersion: .initial, endVersion: .initial)).serialized()
                == #"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[],"clientClockSkew":null,"serverTs":null}"#
        )
        #expect(
            ServerMessage.mutationResponse(.failure(requestId: 1, message: "m", errorData: nil, logLines: [])).serialized()
                == #"{"type":"MutationResponse","requestId":1,"success":false,"result":"m","ts":null,"logLines":[]}"#)
        #expect(
            ServerMessage.actionResponse(.success(requestId: 1, result: 5, logLines: [])).serialized()
                == #"{"type":"ActionResponse","requestId":1,"success":true,"result":5.0,"logLines":[]}"#)
        #expect(
            ServerMessage.authError(error: "e", baseVersion: nil, authUpdateAttempted: false).serialized()
                == #"{"type":"AuthError","error":"e","baseVersion":null,"authUpdateAttempted":false}"#)
        #expect(
            StateModification.queryUpdated(queryId: 1, value: ["b": .int64(42), "a": .float64(-0.0)], logLines: [], journal: nil).json.serialized()
                == #"{"type":"QueryUpdated","queryId":1,"value":{"a":{"$float":"AAAAAAAAAIA="},"b":{"$integer":"KgAAAAAAAAA="}},"logLines":[],"journal":null}"#
        )
    }

    @Test func lenientWhereClientsAreLenient() throws {
        let authError = #"{"type":"AuthError","error":"e"}"#
        #expect(try ServerMessage.parse(authError) == .authError(error: "e", baseVersion: nil, authUpdateAttempted: false))
        let noJournal =
            #"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"modifications":[{"type":"QueryUpdated","queryId":0,"value":1,"logLines":[]}],"extra":{}}"#
        guard case .transition(let transition) = try ServerMessage.parse(noJournal) else {
            Issue.record("not a Transition")
            return
        }
        #expect(transition.modifications == [.queryUpdated(queryId: 0, value: 1, logLines: [], journal: nil)])
    }

    @Test func accessorsAndOrder() {
        #expect(MutationResponse.failure(requestId: 3, message: "", errorData: nil, logLines: []).requestId == 3)
        #expect(ActionResponse.success(requestId: 4, result: .null, logLines: []).requestId == 4)
        #expect(StateModification.queryRemoved(queryId: 8).queryId == 8)
        #expect(StateVersion(querySet: 1, identity: 0, ts: 0) > StateVersion(querySet: 0, identity: 5, ts: 99))
        #expect(StateVersion(querySet: 1, identity: 1, ts: 0) < StateVersion(querySet: 1, identity: 1, ts: 1))
        #expect(ServerMessage.ping.typeName == "Ping")
    }
}
