import NIOCore

/// Closes, when the server shuts down gracefully, a connection whose client has not sent a byte.
///
/// Hummingbird's graceful shutdown asks every connection to quiesce and waits for them all, but
/// until a connection's first request has arrived its pipeline only negotiates HTTP or
/// WebSocket, which ignores the request: a client that connected and stayed silent held the
/// drain, and with it the node's role change, until the lifecycle's time limit. Such a
/// connection has nothing in flight, so closing it loses nothing. Once bytes came, the handlers
/// behind it finish what was asked, and it leaves the pipeline (every idle socket would
/// otherwise keep it).
final class SilentConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
