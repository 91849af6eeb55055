import Foundation
import HummingbirdWSClient
import NIOCore
import RippleNodeTestSupport
import RippleProtocol
import Testing

/// Bad input on one socket gets a clear error or a closed socket, and the node keeps serving.
@Suite(.serialized) struct MalformedInputTests {
    @Test func garbageTextGetsFatalErrorAndClose() async throws {
        let node = try await TestNode.start()
        let result = try await node.exchange([.text("this is not json {{{")])
        #expect(result.serverClosed)
        #expect(fatalErrors(result.messages).first?.contains("JSON") == true, "\(result.messages)")
        try await expectNodeStillServes(node)
        await node.stop()
    }

    @Test func unknownMessageTypeAndMissingConnect() async throws {
        let node = try await TestNode.start()
        let unknown = try await node.exchange([
            .text(#"{"type":"Connect","sessionId":"0b7e4a5e-6f1c-2a57-9f3e-2b8c1d4e5f60","connectionCount":0}"#),
            .text(#"{"type":"Teleport","where":"mars"}"#),
        ])
        #expect(unknown.serverClosed)
        #expect(fatalErrors(unknown.messages).first?.contains("Teleport") == true, "\(unknown.messages)")
        let noConnect = try await node.exchange([.text(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[]}"#)])
        #expect(noConnect.serverClosed)
        #expect(fatalErrors(noConnect.messages).first?.contains("Connect") == true)
        try await expectNodeStillServes(node)
        await node.stop()
    }

    @Test func outOfOrderVersionsAreFatal() async throws {
        let node = try await TestNode.start()
        var frames = healthySessionFrames()
        frames.append(.text(#"{"type":"ModifyQuerySet","baseVersion":5,"newVersion":6,"modifications":[]}"#))
        let result = try await node.exchange(frames)
        #expect(result.serverClosed)
        #expect(fatalErrors(result.messages).contains { $0.contains("BaseVersionMismatch") }, "\(result.messages)")
        let auth = try await node.exchange([
            healthySessionFrames()[0], .text(#"{"type":"Authenticate","baseVersion":3,"tokenType":"None"}"#),
        ])
        #expect(auth.serverClosed)
        #expect(fatalErrors(auth.messages).first?.contains("baseVersion") == true)
        let duplicate = try await node.exchange([
            healthySessionFrames()[0],
            .text(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":1,"udfPath":"channels:list","args":[{}]},{"type":"Add","queryId":1,"udfPath":"channels:list","args":[{}]}]}"#),
        ])
        #expect(fatalErrors(duplicate.messages).first?.contains("Duplicate query ID") == true)
        try await expectNodeStillServes(node)
        await node.stop()
    }

    @Test func hugeFrameClosesOnlyThatSocket() async throws {
        let node = try await TestNode.start()
        let huge = String(repeating: "x", count: 20 << 20)
        let result = try await node.exchange([
            healthySessionFrames()[0], .text(#"{"type":"Mutation","requestId":0,"udfPath":"diagnostics:echoMutation","args":[{"value":""# + huge + #""}]}"#),
        ])
        #expect(result.serverClosed)
        try await expectNodeStillServes(node)
        await node.stop()
    }

    @Test func binaryFrameIsRefused() async throws {
        let node = try await TestNode.start()
        let result = try await node.exchange([healthySessionFrames()[0], .binary(ByteBuffer(bytes: [0, 1, 2, 3]))])
        #expect(result.serverClosed)
        #expect(fatalErrors(result.messages).first?.contains("Binary") == true)
        try await expectNodeStillServes(node)
        await node.stop()
    }
}
