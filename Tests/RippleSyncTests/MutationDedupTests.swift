import Foundation
import HummingbirdWSClient
import RippleNodeTestSupport
import RippleProtocol
import RippleValues
import Testing

/// A re-sent mutation is answered with its first result only when it comes from the same client
/// session under the same identity; other clients' mutations always run.
@Suite(.serialized) struct MutationDedupTests {
    func connect(session: String) -> WebSocketOutboundWriter.OutboundFrame {
        .text(#"{"type":"Connect","sessionId":"\#(session)","connectionCount":0,"lastCloseReason":"InitialConnect"}"#)
    }

    let asAdmin = WebSocketOutboundWriter.OutboundFrame.text(#"{"type":"Authenticate","baseVersion":0,"tokenType":"Admin","value":"test-admin-key"}"#)

    func echo(_ value: String, requestId: Int = 0) -> WebSocketOutboundWriter.OutboundFrame {
        .text(#"{"type":"Mutation","requestId":\#(requestId),"udfPath":"diagnostics:echoMutation","args":[{"value":"\#(value)"}]}"#)
    }

    /// The result the socket got for its mutation, after sending `frames`.
    func mutationResult(_ node: TestNode, _ frames: [WebSocketOutboundWriter.OutboundFrame]) async throws -> Value? {
        let exchange = try await node.exchange(frames) { messages in messages.contains { $0.contains("MutationResponse") } }
        for text in exchange.messages {
            if case .mutationResponse(.success(_, let result, _, _))? = try? ServerMessage.parse(text) { return result }
        }
        Issue.record("no successful MutationResponse in \(exchange.messages)")
        return nil
    }

    @Test func clientsWithoutSessionIdNeverShareResults() async throws {
        let node = try await TestNode.start()
        #expect(try await mutationResult(node, [connect(session: ""), echo("first")]) == .string("first"))
        #expect(try await mutationResult(node, [connect(session: ""), echo("second")]) == .string("second"))
        await node.stop()
    }

    @Test func sameSessionUnderAnotherIdentityRuns() async throws {
        let node = try await TestNode.start()
        let session = "5d1f0a9e-7c1b-4d2e-9f3a-0b1c2d3e4f50"
        #expect(try await mutationResult(node, [connect(session: session), echo("anonymous")]) == .string("anonymous"))
        #expect(try await mutationResult(node, [connect(session: session), asAdmin, echo("admin")]) == .string("admin"))
        await node.stop()
    }

    @Test func resendOnANewSocketGetsTheFirstResult() async throws {
        let node = try await TestNode.start()
        let session = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
        #expect(try await mutationResult(node, [connect(session: session), echo("first", requestId: 3)]) == .string("first"))
        // The client did not hear back and sends request 3 again after reconnecting.
        #expect(try await mutationResult(node, [connect(session: session), echo("resent", requestId: 3)]) == .string("first"))
        await node.stop()
    }
}
