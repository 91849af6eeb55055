import NIOCore
import NIOEmbedded
import NIOWebSocket
import RippleNodeTestSupport
@testable import RippleSync
import Testing

/// `WebSocketKeepAlive` on an `EmbeddedChannel` with its clock advanced by hand: when it pings,
/// what a pong changes, and that nothing follows a close frame.
@Suite struct WebSocketKeepAliveTests {
    static let period = TimeAmount.seconds(5)

    func connected() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(WebSocketKeepAlive(period: Self.period))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    func sent(_ channel: EmbeddedChannel) throws -> [WebSocketFrame] {
        var frames: [WebSocketFrame] = []
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) { frames.append(frame) }
        return frames
    }

    /// The pong a client sends for `ping`: the same payload, masked as client frames are.
    func pong(_ ping: WebSocketFrame) -> WebSocketFrame {
        let key = WebSocketMaskingKey.random()
        var data = ping.data
        data.webSocketMask(key)
        return WebSocketFrame(fin: true, opcode: .pong, maskKey: key, data: data)
    }

    @Test func pingsEachPeriodWhileAnswered() throws {
        let channel = try connected()
        channel.embeddedEventLoop.advanceTime(by: Self.period - .milliseconds(1))
        #expect(try sent(channel).isEmpty)
        for _ in 0..<3 {
            channel.embeddedEventLoop.advanceTime(by: Self.period)
            let frames = try sent(channel)
            #expect(frames.map(\.opcode) == [.ping])
            try channel.writeInbound(pong(frames[0]))
            #expect(try channel.readInbound(as: WebSocketFrame.self)?.opcode == .pong)
        }
        #expect(channel.isActive)
    }

    @Test func closesGoingAwayWhenAPingIsUnanswered() throws {
        let channel = try connected()
        channel.embeddedEventLoop.advanceTime(by: Self.period)
        let ping = try #require(try sent(channel).first)
        // A pong for another ping does not count.
        var stale = ping
        stale.data = ByteBuffer(bytes: [9, 9, 9, 9, 9, 9, 9, 9])
        try channel.writeInbound(pong(stale))
        channel.embeddedEventLoop.advanceTime(by: Self.period)
        let frames = try sent(channel)
        #expect(frames.map(\.opcode) == [.connectionClose])
        var data = frames[0].data
        #expect(data.readWebSocketErrorCode() == .goingAway)
        #expect(data.readString(length: data.readableBytes) == WebSocketKeepAlive.timeoutReason)
        #expect(!channel.isActive)
    }

    /// After the server's close frame nothing more is sent, and a client that never answers it
    /// (and may go on sending, which the WebSocket library still delivers) has one period.
    @Test func stopsPingingOnceTheServerSendsCloseAndClosesAPeriodLater() throws {
        let channel = try connected()
        try channel.writeOutbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer()))
        #expect(try sent(channel).map(\.opcode) == [.connectionClose])
        channel.embeddedEventLoop.advanceTime(by: Self.period - .milliseconds(1))
        #expect(try sent(channel).isEmpty)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(try sent(channel).isEmpty)
        #expect(!channel.isActive)
    }

    @Test func stopsPingingOnceTheClientSendsCloseAndClosesAPeriodLater() throws {
        let channel = try connected()
        try channel.writeInbound(WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer()))
        channel.embeddedEventLoop.advanceTime(by: Self.period - .milliseconds(1))
        #expect(try sent(channel).isEmpty)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive)
    }

    /// A client that does not read cannot answer pings it never saw.
    @Test func pingPayloadsCannotBeGuessed() throws {
        let channel = try connected()
        var payloads: Set<ByteBuffer> = []
        for _ in 0..<4 {
            channel.embeddedEventLoop.advanceTime(by: Self.period)
            let ping = try #require(try sent(channel).first)
            payloads.insert(ping.data)
            try channel.writeInbound(pong(ping))
            _ = try channel.readInbound(as: WebSocketFrame.self)
        }
        #expect(payloads.count == 4)
        #expect(!payloads.contains(ByteBuffer(integer: UInt64(1))))
    }

    /// On a node: the keep-alive sits in every sync socket's pipeline, so a client that stops
    /// answering pings is disconnected going-away.
    @Test(.timeLimit(.minutes(1))) func aNodeDisconnectsAClientThatDoesNotAnswerPings() async throws {
        let node = try await TestNode.start { $0.webSocketPingPeriod = .milliseconds(100) }
        do {
            // Its reads give up after 3 s: 30 intervals.
            let client = try UnansweringWebSocket(port: node.port, timeout: 3, answersPings: false)
            try client.sendText(#"{"type":"Connect","sessionId":"5d0c1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f","connectionCount":0,"lastCloseReason":"InitialConnect"}"#)
            #expect(try await client.readUntilClosed(), "the server closes the connection")
            #expect(client.closeCode == 1001)
        }
        await node.stop()
    }
}
