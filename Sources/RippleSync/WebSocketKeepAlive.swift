import NIOCore
import NIOWebSocket

/// Pings a WebSocket's peer every `period` and closes the connection, going-away, when a ping is
/// still unanswered a period later: a client that vanished without closing (a laptop shut, a
/// network gone) frees its socket within two periods. Once a close frame has gone either way, the
/// peer has one period to finish the close handshake before the connection is closed: a client
/// that ignores the server's close (and goes on sending) holds its socket no longer than that.
///
/// The WebSocket library can do this itself (`autoPing`), but with a task per socket kept
/// suspended for the socket's life; on the channel's event loop it costs a scheduled timer
/// (docs/performance.md, memory_per_connection). It sits between the frame codec and the
/// library's handler: it sees the pongs and both sides' close frames, and stops pinging once a
/// close frame has gone either way (nothing may follow a close). Ping payloads are random, so a
/// client that does not read cannot answer them blindly.
final class WebSocketKeepAlive: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// The close reason of a connection whose peer stopped answering pings.
    static let timeoutReason = "Ping timeout"

    private let period: TimeAmount
    private var timer: Scheduled<Void>?
    /// The payload of the ping sent last, until its pong arrives.
    private var unanswered: ByteBuffer?
    /// A close frame has gone one way: no more pings, and the handshake has a deadline.
    private var closing = false

    init(period: TimeAmount) {
        self.period = period
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { schedule(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    func channelActive(context: ChannelHandlerContext) {
        schedule(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .pong where frame.unmaskedData == unanswered:
            unanswered = nil
        case .connectionClose:
            closeHandshakeBegan(context: context)
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if unwrapOutboundIn(data).opcode == .connectionClose { closeHandshakeBegan(context: context) }
        context.write(data, promise: promise)
    }

    private func schedule(context: ChannelHandlerContext) {
        guard timer == nil, !closing else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: period) { self.tick(context: context) }
    }

    private func tick(context: ChannelHandlerContext) {
        timer = nil
        guard !closing else { return }
        if unanswered != nil {
            closing = true
            var reason = context.channel.allocator.buffer(capacity: 2 + Self.timeoutReason.utf8.count)
            reason.write(webSocketErrorCode: .goingAway)
            reason.writeString(Self.timeoutReason)
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reason)), promise: nil)
            context.flush()
            context.close(promise: nil)
            return
        }
        var payload = context.channel.allocator.buffer(capacity: 8)
        payload.writeInteger(UInt64.random(in: .min ... .max))
        unanswered = payload
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: payload)), promise: nil)
        schedule(context: context)
    }

    /// Stops pinging and gives the peer one period to finish the close handshake.
    private func closeHandshakeBegan(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        cancelTimer()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: period) { context.close(promise: nil) }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}
