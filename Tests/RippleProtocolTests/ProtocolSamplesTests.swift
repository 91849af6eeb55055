import Foundation
import RippleValues
import Testing

@testable import RippleProtocol

/// Every wire sample in protocol.md, copied verbatim. Templates (`int`, `string`, `{…}`) are filled
/// in with the smallest concrete values; literal placeholder strings such as `"<JWT>"` are kept.
@Suite struct ProtocolSamplesTests {
    // MARK: - Client → server (§2, §4)

    @Test func connectSample() throws {
        let text =
            #"{"type":"Connect","sessionId":"6f1c2a57-0b7e-4a5e-9f3e-2b8c1d4e5f60","connectionCount":1,"lastCloseReason":"InactiveServer","maxObservedTimestamp":"Fc1V9VFyhhg=","clientTs":1767225600123}"#
        let message = try ClientMessage.parse(text)
        #expect(
            message
                == .connect(
                    Connect(
                        sessionId: "6f1c2a57-0b7e-4a5e-9f3e-2b8c1d4e5f60", connectionCount: 1, lastCloseReason: "InactiveServer",
                        maxObservedTimestamp: 1_767_225_600_123_456_789, clientTs: 1_767_225_600_123)))
        #expect(message.serialized() == text)
    }

    @Test func modifyQuerySetSample() throws {
        let text =
            #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"messages:list","args":[{"channel":"general"}]}]}"#
        let message = try ClientMessage.parse(text)
        #expect(
            message
                == .modifyQuerySet(
                    baseVersion: 0, newVersion: 1,
                    modifications: [.add(queryId: 0, udfPath: "messages:list", args: ["channel": "general"], journal: nil, componentPath: nil)]))
        #expect(message.serialized() == text)
    }

    @Test func addTemplateWithJournalAndComponentPath() throws {
        let text =
            #"{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Add","queryId":3,"udfPath":"messages:list","args":[{}],"journal":"j0","componentPath":"comp"},{"type":"Remove","queryId":0}]}"#
        let message = try ClientMessage.parse(text)
        #expect(
            message
                == .modifyQuerySet(
                    baseVersion: 1, newVersion: 2,
                    modifications: [
                        .add(queryId: 3, udfPath: "messages:list", args: [:], journal: "j0", componentPath: "comp"), .remove(queryId: 0),
                    ]))
        #expect(message.serialized() == text)
    }

    @Test func addWithNullJournalIsAnAddWithoutJournal() throws {
        let text =
            #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"a:b","args":[{}],"journal":null}]}"#
        guard case .modifyQuerySet(_, _, let modifications) = try ClientMessage.parse(text) else {
            Issue.record("not ModifyQuerySet")
            return
        }
        #expect(modifications == [.add(queryId: 0, udfPath: "a:b", args: [:], journal: nil, componentPath: nil)])
    }

    @Test func mutationSampleFromSection4() throws {
        let text = #"{"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"hi"}]}"#
        let message = try ClientMessage.parse(text)
        #expect(message == .mutation(requestId: 0, udfPath: "messages:send", args: ["body": "hi"], componentPath: nil))
        #expect(message.serialized() == text)
    }

    @Test func mutationAndActionTemplates() throws {
        for type in ["Mutation", "Action"] {
            let text = #"{"type":"\#(type)","requestId":7,"udfPath":"messages:send","args":[{"body":"hi"}],"componentPath":"comp"}"#
            let message = try ClientMessage.parse(text)
            #expect(message.typeName == type)
            #expect(message.serialized() == text)
        }
    }

    @Test func authenticateTemplates() throws {
        let user = #"{"type":"Authenticate","baseVersion":0,"tokenType":"User","value":"<JWT>"}"#
        #expect(try ClientMessage.parse(user) == .authenticate(baseVersion: 0, token: .user("<JWT>")))
        #expect(try ClientMessage.parse(user).serialized() == user)

        let admin =
            #"{"type":"Authenticate","baseVersion":1,"tokenType":"Admin","value":"<admin/deploy key>","impersonating":{"subject":"u1","issuer":"https://issuer"}}"#
        let identity = JSON.object([("subject", .string("u1")), ("issuer", .string("https://issuer"))])
        #expect(try ClientMessage.parse(admin) == .authenticate(baseVersion: 1, token: .admin("<admin/deploy key>", impersonating: identity)))
        #expect(try ClientMessage.parse(admin).serialized() == admin)

        let adminPlain = #"{"type":"Authenticate","baseVersion":1,"tokenType":"Admin","value":"<admin/deploy key>"}"#
        #expect(try ClientMessage.parse(adminPlain) == .authenticate(baseVersion: 1, token: .admin("<admin/deploy key>", impersonating: nil)))
        #expect(try ClientMessage.parse(adminPlain).serialized() == adminPlain)

        let none = #"{"type":"Authenticate","baseVersion":2,"tokenType":"None"}"#
        #expect(try ClientMessage.parse(none) == .authenticate(baseVersion: 2, token: .none))
        #expect(try ClientMessage.parse(none).serialized() == none)
    }

    @Test func authenticateAcceptsRustsActingAs() throws {
        let text = #"{"type":"Authenticate","baseVersion":0,"tokenType":"Admin","value":"key","acting_as":{"subject":"u1"}}"#
        #expect(
            try ClientMessage.parse(text)
                == .authenticate(baseVersion: 0, token: .admin("key", impersonating: .object([("subject", .string("u1"))]))))
    }

    @Test func eventTemplates() throws {
        let text = #"{"type":"Event","eventType":"ClientReceivedTransition","event":{"transitionTransitTime":12.5,"messageLength":345}}"#
        let message = try ClientMessage.parse(text)
        #expect(
            message
                == .event(
                    eventType: "ClientReceivedTransition",
                    event: .object([("transitionTransitTime", .number(12.5)), ("messageLength", .int(345))])))
        #expect(message.serialized() == text)

        let reconnect = #"{"type":"Event","eventType":"NetworkRecoveryReconnect","event":{"timeSavedMs":100}}"#
        #expect(try ClientMessage.parse(reconnect).serialized() == reconnect)
    }

    // MARK: - Server → client (§1.4, §3, §4)

    @Test func timestampExamples() {
        let examples: [(UInt64, String)] = [
            (0, "AAAAAAAAAAA="), (1, "AQAAAAAAAAA="), (1_700_000_000_000_000_000, "AAAqNv6clxc="),
            (1_767_225_600_123_456_789, "Fc1V9VFyhhg="),
        ]
        for (ts, text) in examples {
            #expect(StateVersion(querySet: 0, identity: 0, ts: ts).json.serialized() == #"{"querySet":0,"identity":0,"ts":"\#(text)"}"#)
        }
    }

    @Test func firstTransitionSample() throws {
        let text =
            #"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":1,"identity":0,"ts":"Fc1V9VFyhhg="},"modifications":[{"type":"QueryUpdated","queryId":0,"value":[{"_id":"jd7...","_creationTime":1767225600000.5,"body":"hi"}],"logLines":[],"journal":null}],"clientClockSkew":null,"serverTs":null}"#
        let message = try ServerMessage.parse(text)
        let document: Value = ["_id": "jd7...", "_creationTime": .float64(1_767_225_600_000.5), "body": "hi"]
        let expected = ServerMessage.transition(
            Transition(
                startVersion: .initial,
                endVersion: StateVersion(querySet: 1, identity: 0, ts: 1_767_225_600_123_456_789),
                modifications: [.queryUpdated(queryId: 0, value: [document], logLines: [], journal: nil)]))
        #expect(message == expected)
        // Convex JSON writes object keys sorted (as `convexToJson` and the real server do), so the
        // document's fields come back as `_creationTime`, `_id`, `body`; everything else is verbatim.
        let canonical = text.replacingOccurrences(
            of: #"{"_id":"jd7...","_creationTime":1767225600000.5,"body":"hi"}"#,
            with: #"{"_creationTime":1767225600000.5,"_id":"jd7...","body":"hi"}"#)
        #expect(canonical != text)
        #expect(message.serialized() == canonical)
        #expect(try ServerMessage.parse(canonical).serialized() == canonical)
    }

    @Test func mutationSequenceFromSection4() throws {
        let response = #"{"type":"MutationResponse","requestId":0,"success":true,"result":null,"ts":"Fc1V9VFyhhg=","logLines":[]}"#
        let parsedResponse = try ServerMessage.parse(response)
        #expect(parsedResponse == .mutationResponse(.success(requestId: 0, result: .null, ts: 1_767_225_600_123_456_789, logLines: [])))
        #expect(parsedResponse.serialized() == response)

        let transition =
            #"{"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},"endVersion":{"querySet":0,"identity":0,"ts":"Fc1V9VFyhhg="},"modifications":[]}"#
        let parsedTransition = try ServerMessage.parse(transition)
        #expect(
            parsedTransition
                == .transition(Transition(startVersion: .initial, endVersion: StateVersion(querySet: 0, identity: 0, ts: 1_767_225_600_123_456_789))))
        // §3.3: clientClockSkew and serverTs are optional; Ripple always writes them, as the real server does.
        #expect(parsedTransition.serialized() == transition.dropLast() + #","clientClockSkew":null,"serverTs":null}"#)
    }

    @Test func stateModificationTemplates() throws {
        let failed =
            #"{"type":"QueryFailed","queryId":2,"errorMessage":"[Request ID: 1] Server Error","logLines":["[LOG] 'hello'"],"journal":"j","errorData":{"code":"NOPE"}}"#
        let failedPlain = #"{"type":"QueryFailed","queryId":2,"errorMessage":"boom","logLines":[],"journal":null}"#
        let failedNullData = #"{"type":"QueryFailed","queryId":2,"errorMessage":"boom","logLines":[],"journal":null,"errorData":null}"#
        let removed = #"{"type":"QueryRemoved","queryId":2}"#
        let transition =
            #"{"type":"Transition","startVersion":{"querySet":1,"identity":0,"ts":"AQAAAAAAAAA="},"endVersion":{"querySet":2,"identity":1,"ts":"AAAqNv6clxc="},"modifications":[\#(failed),\#(failedPlain),\#(failedNullData),\#(removed)],"clientClockSkew":-3,"serverTs":1700000000000000000}"#
        let message = try ServerMessage.parse(transition)
        guard case .transition(let body) = message else {
            Issue.record("not a Transition")
            return
        }
        #expect(
            body.modifications == [
                .queryFailed(
                    queryId: 2, errorMessage: "[Request ID: 1] Server Error", logLines: ["[LOG] 'hello'"], journal: "j", errorData: ["code": "NOPE"]),
                .queryFailed(queryId: 2, errorMessage: "boom", logLines: [], journal: nil, errorData: nil),
                .queryFailed(queryId: 2, errorMessage: "boom", logLines: [], journal: nil, errorData: .null),
                .queryRemoved(queryId: 2),
            ])
        #expect(body.clientClockSkew == -3)
        #expect(body.serverTs == 1_700_000_000_000_000_000)
        #expect(message.serialized() == transition)
    }

    @Test func responseTemplates() throws {
        let samples = [
            #"{"type":"MutationResponse","requestId":4,"success":true,"result":{"$integer":"KgAAAAAAAAA="},"ts":"AQAAAAAAAAA=","logLines":["[LOG] 'hello'"]}"#,
            #"{"type":"MutationResponse","requestId":4,"success":false,"result":"<error message string>","ts":null,"logLines":[]}"#,
            #"{"type":"MutationResponse","requestId":4,"success":false,"result":"<error message string>","ts":null,"logLines":[],"errorData":{"reason":"taken"}}"#,
            #"{"type":"ActionResponse","requestId":5,"success":true,"result":[1.0,"x",{"$bytes":"AAE="}],"logLines":[]}"#,
            #"{"type":"ActionResponse","requestId":5,"success":false,"result":"<error message string>","logLines":[]}"#,
            #"{"type":"ActionResponse","requestId":5,"success":false,"result":"<error message string>","logLines":[],"errorData":"plain"}"#,
        ]
        for sample in samples {
            #expect(try ServerMessage.parse(sample).serialized() == sample)
        }
        #expect(
            try ServerMessage.parse(samples[2])
                == .mutationResponse(.failure(requestId: 4, message: "<error message string>", errorData: ["reason": "taken"], logLines: [])))
        #expect(try ServerMessage.parse(samples[3]) == .actionResponse(.success(requestId: 5, result: [1, "x", .bytes([0, 1])], logLines: [])))
    }

    @Test func authErrorFatalErrorAndPing() throws {
        let authError = #"{"type":"AuthError","error":"Invalid token","baseVersion":0,"authUpdateAttempted":true}"#
        #expect(try ServerMessage.parse(authError) == .authError(error: "Invalid token", baseVersion: 0, authUpdateAttempted: true))
        #expect(try ServerMessage.parse(authError).serialized() == authError)

        let fatal = #"{"type":"FatalError","error":"BaseVersionMismatch"}"#
        #expect(try ServerMessage.parse(fatal) == .fatalError(error: "BaseVersionMismatch"))
        #expect(try ServerMessage.parse(fatal).serialized() == fatal)

        let ping = #"{"type":"Ping"}"#
        #expect(try ServerMessage.parse(ping) == .ping)
        #expect(ServerMessage.ping.serialized() == ping)
    }
}
