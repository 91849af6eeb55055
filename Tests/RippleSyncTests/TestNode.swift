import ChatExample
import Foundation
import Hummingbird
import HummingbirdWSClient
import Logging
import NIOWebSocket
import RippleAuth
import RippleEngine
import RippleNodeTestSupport
import RippleProtocol
@testable import RippleSync
import RippleValues
import Testing

extension TestNode {
    /// A chat node (with the diagnostics functions) on a fresh data directory.
    static func start(
        authenticator: Authenticator? = nil, configure: (inout SyncServer.Configuration) -> Void = { _ in }
    ) async throws -> TestNode {
        try await start(app: ChatApp.appWithDiagnostics, authenticator: authenticator, configure: configure)
    }

    /// Opens a sync socket, sends `frames`, and collects the server's text messages until the
    /// server closes the socket or `until` is satisfied (then the client closes).
    func exchange(
        _ frames: [WebSocketOutboundWriter.OutboundFrame], path: String = "/api/sync",
        until done: @escaping @Sendable ([String]) -> Bool = { _ in false }
    ) async throws -> (messages: [String], serverClosed: Bool, closeCode: WebSocketErrorCode?) {
        let collected = Collected()
        var configuration = WebSocketClientConfiguration()
        configuration.maxFrameSize = 32 << 20
        let closeFrame = try await WebSocketClient.connect(
            url: "ws://\(host):\(port)\(path)", configuration: configuration, logger: Logger(label: "test-client")
        ) { inbound, outbound, _ in
            for frame in frames { try await outbound.write(frame) }
            for try await message in inbound.messages(maxSize: 32 << 20) {
                if case .text(let text) = message { await collected.append(text) }
                if done(await collected.messages) {
                    await collected.markClientClosed()
                    try await outbound.close(.normalClosure, reason: nil)
                    return
                }
            }
        }
        let messages = await collected.messages
        return (messages, !(await collected.clientClosed), closeFrame?.closeCode)
    }
}

actor Collected {
    var messages: [String] = []
    var clientClosed = false
    func append(_ text: String) { messages.append(text) }
    func markClientClosed() { clientClosed = true }
}

/// Messages of a minimal healthy session: Connect, then one subscription to `diagnostics:echo`.
let healthySessionTexts = [
    #"{"type":"Connect","sessionId":"0b7e4a5e-6f1c-2a57-9f3e-2b8c1d4e5f60","connectionCount":0,"lastCloseReason":"InitialConnect"}"#,
    #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"diagnostics:echo","args":[{"value":"alive"}]}]}"#,
]

/// `healthySessionTexts` as frames for Hummingbird's client.
func healthySessionFrames() -> [WebSocketOutboundWriter.OutboundFrame] {
    healthySessionTexts.map { .text($0) }
}

/// A loopback address of the test's own: Linux routes all of 127.0.0.0/8 to `lo`, and a client
/// elsewhere on the machine still retrying a stopped node's port (which the OS may hand to a
/// test's node) aims at 127.0.0.1, so it cannot take a socket that a limit test counts.
func privateLoopbackHost() -> String {
    #if os(Linux)
    "127.\(Int.random(in: 1...254)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
    #else
    "127.0.0.1"
    #endif
}

/// True once a Transition carrying a QueryUpdated has arrived.
@Sendable func hasQueryUpdate(_ messages: [String]) -> Bool {
    messages.contains { $0.contains(#""type":"Transition""#) && $0.contains("QueryUpdated") }
}

/// A fresh socket still gets its query answered: the node survived whatever came before.
///
/// Read with `RawWebSocket`: a socket the node refuses gets its FatalError right behind the
/// upgrade, which Hummingbird's client can lose (then it hangs, or ends with no message at all).
func expectNodeStillServes(_ node: TestNode) async throws {
    let healthy = try await RawWebSocket.exchange(host: node.host, port: node.port, texts: healthySessionTexts, until: hasQueryUpdate)
    #expect(
        hasQueryUpdate(healthy.texts),
        "a fresh socket must still work: \(healthy.texts), server closed: \(healthy.serverClosed), close code: \(String(describing: healthy.closeCode))")
    #expect(healthy.texts.contains { $0.contains(#""value":"alive""#) })
}

/// The `error` of every FatalError among `messages`.
func fatalErrors(_ messages: [String]) -> [String] {
    messages.compactMap {
        guard case .fatalError(let error)? = try? ServerMessage.parse($0) else { return nil }
        return error
    }
}

/// Every Transition among `messages`, in order.
func transitions(_ messages: [String]) -> [Transition] {
    messages.compactMap {
        guard case .transition(let transition)? = try? ServerMessage.parse($0) else { return nil }
        return transition
    }
}
