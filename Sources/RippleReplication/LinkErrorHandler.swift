import Logging
import NIOCore

/// Closes the link on the first error that reaches it (a bad frame, a malformed message, a read
/// timeout), logs it once, and passes it on so the connection's owner sees why the link ended.
/// After a frame fails its checks the byte stream cannot be resynchronised, so closing is the
/// only safe answer; the replica reconnects and resumes from its durable position.
public final class LinkErrorHandler: ChannelInboundHandler {
    public typealias InboundIn = ReplicationMessage
    public typealias InboundOut = ReplicationMessage

    private let logger: Logger
    private var failed = false

    public init(logger: Logger) {
        self.logger = logger
    }

    public func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !failed {
            failed = true
            logger.warning("closing replication link", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)"])
        }
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension LinkErrorHandler: Sendable {}
