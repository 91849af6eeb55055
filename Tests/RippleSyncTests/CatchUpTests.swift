import Foundation
import HummingbirdWSClient
import RippleEngine
import RippleNodeTestSupport
import RippleProtocol
@testable import RippleSync
import RippleTestSupport
import RippleValues
import Testing

/// A Connect carrying `maxObservedTimestamp`: refused beyond what the deployment knows of,
/// otherwise the socket's Transitions wait (bounded) until the node has caught up.
@Suite(.serialized) struct CatchUpTests {
    static func connect(observed ts: UInt64) -> WebSocketOutboundWriter.OutboundFrame {
        let wire = WireTimestamp.encode(ts)
        return .text(#"{"type":"Connect","sessionId":"0b7e4a5e-6f1c-2a57-9f3e-2b8c1d4e5f60","connectionCount":1,"lastCloseReason":null,"maxObservedTimestamp":"\#(wire)"}"#)
    }

    @Test func timestampAheadOfTheDeploymentIsRefused() async throws {
        let node = try await TestNode.start()
        let latest = try await node.engine.latestTimestamp().nanoseconds
        let future = latest + 3_600_000_000_000
        let result = try await node.exchange([Self.connect(observed: future), healthySessionFrames()[1]], until: hasQueryUpdate)
        #expect(result.serverClosed)
        #expect(
            fatalErrors(result.messages) == [
                "Client has observed a timestamp \(future) ahead of this deployment's latest known timestamp \(latest)"
            ])
        try await expectNodeStillServes(node)
        await node.stop()
    }

    /// As on a replica behind the writer: the writer has announced more than this node applied.
    @Test func transitionsWaitUntilTheNodeReachesTheObservedTimestamp() async throws {
        let node = try await TestNode.start { $0.latestKnownTimestamp = { .init(nanoseconds: UInt64(Int64.max)) } }
        let observed = try await node.engine.latestTimestamp().nanoseconds + 1_000
        async let result = node.exchange([Self.connect(observed: observed), healthySessionFrames()[1]], until: hasQueryUpdate)
        try await eventually("the session is catching up") { await node.server.hub.catchingUpSessionCount == 1 }
        _ = try await node.engine.mutation(
            "diagnostics:scheduleRuns", ["prefix": "catch-up", "count": 1, "delayMs": 3_600_000, "kind": "mutation"])
        let messages = try await result.messages as [String]
        let received = transitions(messages)
        #expect(received.count == 1)
        #expect(received.first.map { $0.endVersion.ts >= observed } == true, "\(messages)")
        try await eventually("the hub forgot the session") { await node.server.hub.sessionCount == 0 }
        await node.stop()
    }

    @Test func aNodeThatDoesNotCatchUpInTimeClosesTheSocketAndForgetsIt() async throws {
        let node = try await TestNode.start {
            $0.latestKnownTimestamp = { .init(nanoseconds: UInt64(Int64.max)) }
            $0.limits.catchUpTimeout = .milliseconds(200)
        }
        let observed = try await node.engine.latestTimestamp().nanoseconds + 1_000
        let result = try await node.exchange([Self.connect(observed: observed), healthySessionFrames()[1]])
        #expect(result.serverClosed)
        #expect(
            fatalErrors(result.messages) == [
                "This node has not caught up with the state the client has seen (timestamp \(observed)) in time; reconnect"
            ])
        try await eventually("the hub forgot the session") { await node.server.hub.sessionCount == 0 }
        #expect(await node.server.hub.catchingUpSessionCount == 0)
        try await expectNodeStillServes(node)
        await node.stop()
    }
}
