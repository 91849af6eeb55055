import NIOCore
import RippleStorage

/// The replica's commit path, on the event loop: once the writer has accepted the link, checks
/// each `commits` batch against the chain (`ReplicaStream`) and queues it on the sink right here,
/// and answers heartbeats. No task of the concurrency pool sits between the socket and the
/// applier, so a busy pool (the node's own request handlers) does not delay the replica.
///
/// Everything else — the handshake, forward results, snapshots — goes on to the link's task.
/// A snapshot hands the whole stream to the task for the rest of the link (`passThrough`): the
/// snapshot must be installed before any later commit is queued, and the task does both in order.
///
/// The sink's completions (on the applier's thread) send the acks, straight to the channel, and
/// close the link on a failed apply; `QueuedApplies` is what the task waits on before it moves on.
final class ReplicaCommitHandler: ChannelInboundHandler {
    typealias InboundIn = ReplicationMessage
    typealias InboundOut = ReplicationMessage

    private enum Mode {
        /// Until the writer accepts: messages go to the task, which runs the handshake.
        case handshake
        /// This handler queues the commits.
        case streaming(ReplicaStream)
        /// A snapshot started: the task handles everything from here on.
        case passThrough
    }

    private var mode = Mode.handshake
    private let appliedTimestamp: UInt64
    private let sink: any CommitSink
    private let applies: QueuedApplies
    private let announced: @Sendable (UInt64) -> Void

    /// - Parameters:
    ///   - appliedTimestamp: the position the replica's hello names.
    ///   - announced: told the writer's latest timestamp as batches and heartbeats arrive.
    init(appliedTimestamp: UInt64, sink: any CommitSink, applies: QueuedApplies, announced: @escaping @Sendable (UInt64) -> Void) {
        self.appliedTimestamp = appliedTimestamp
        self.sink = sink
        self.applies = applies
        self.announced = announced
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        switch mode {
        case .handshake:
            if case .accepted(let latest) = message {
                mode = .streaming(ReplicaStream(appliedTimestamp: appliedTimestamp, writerLatestTimestamp: latest))
            }
            context.fireChannelRead(data)
        case .passThrough:
            context.fireChannelRead(data)
        case .streaming(var stream):
            switch message {
            case .commits, .heartbeat:
                let previous = stream.lastReceivedTimestamp
                // A heartbeat is answered with what the sink has made durable by now.
                _ = stream.applied(through: applies.appliedTimestamp)
                let action: ReplicaStream.Action
                do {
                    action = try stream.receive(message)
                } catch {
                    context.fireErrorCaught(error)
                    context.close(promise: nil)
                    return
                }
                mode = .streaming(stream)
                announced(stream.writerLatestTimestamp)
                switch action {
                case .apply(let commits):
                    queue(commits, following: previous, channel: context.channel)
                case .send(let reply):
                    context.channel.writeAndFlush(reply, promise: nil)
                case .deliverForwardResult:
                    context.fireChannelRead(data)
                }
            case .snapshotBegin:
                mode = .passThrough
                context.fireChannelRead(data)
            default:
                context.fireChannelRead(data)
            }
        }
    }

    private func queue(_ commits: [Commit], following previous: UInt64, channel: any Channel) {
        let applies = self.applies
        applies.queued()
        sink.apply(commits, following: previous) { result in
            applies.completed(result)
            switch result {
            case .success(let ts): channel.writeAndFlush(ReplicationMessage.ack(appliedTimestamp: ts), promise: nil)
            // Ends the link; the task rethrows the failure from `applies`.
            case .failure: channel.close(promise: nil)
            }
        }
    }
}

@available(*, unavailable)
extension ReplicaCommitHandler: Sendable {}
