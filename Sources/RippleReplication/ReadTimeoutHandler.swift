import NIOCore

/// Fails the link with `ReplicationError.timedOut` when a read was requested and nothing arrived
/// within `timeout`.
///
/// Unlike an idle timer this only counts time while someone wants data: when the consumer stops
/// reading because it is busy applying a large batch (async back-pressure suppresses `read()`),
/// the clock is not running, so a slow replica is not mistaken for a dead writer. Both ends send
/// something at least every heartbeat interval (the writer heartbeats when idle, the replica acks
/// each heartbeat), so a silent peer is a dead one.
public final class ReadTimeoutHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var timer: Scheduled<Void>?

    public init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    public func read(context: ChannelHandlerContext) {
        if timer == nil, context.channel.isActive {
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            timer = context.eventLoop.scheduleTask(in: timeout) {
                let context = loopBound.value
                context.fireErrorCaught(ReplicationError.timedOut)
            }
        }
        context.read()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        stopTimer()
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stopTimer()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        stopTimer()
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
    }
}

@available(*, unavailable)
extension ReadTimeoutHandler: Sendable {}
