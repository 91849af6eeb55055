import NIOCore

/// `LogFrame` ↔ `ReplicationMessage`: parses inbound frames into messages and turns outbound
/// messages into frames. A payload that does not parse fires a `ReplicationError`.
public final class ReplicationMessageCodec: ChannelDuplexHandler {
    public typealias InboundIn = LogFrame
    public typealias InboundOut = ReplicationMessage
    public typealias OutboundIn = ReplicationMessage
    public typealias OutboundOut = LogFrame

    public init() {}

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        do {
            context.fireChannelRead(wrapInboundOut(try ReplicationMessage(frame: frame)))
        } catch {
            context.fireErrorCaught(error)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let message = unwrapOutboundIn(data)
        context.write(wrapOutboundOut(message.frame(allocator: context.channel.allocator)), promise: promise)
    }
}

@available(*, unavailable)
extension ReplicationMessageCodec: Sendable {}
