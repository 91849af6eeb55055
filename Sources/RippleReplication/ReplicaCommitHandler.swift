import NIOCore
import RippleLog

/// The replica's end of a link, on the event loop: runs the handshake, then checks each
/// `commits` batch against the chain (`ReplicaStream`) and queues it on the sink right here, and
/// answers heartbeats. No task of the concurrency pool sits between the socket and the applier,
/// so a busy pool (the node's own request handlers) does not delay the replica.
///
/// The handshake runs here, not in the link's task, because the writer's first tagged frame may
/// arrive in the same read as its `accepted`: the frame keys must be in place before the next
/// frame is decoded, which only a handler on the event loop can guarantee. The task gets the
/// `accepted` message once the link is open, or the handshake's error.
///
/// Everything else — forward results, snapshots — goes on to the link's task. A snapshot hands
/// the whole stream to the task for the rest of the link (`passThrough`): the snapshot must be
/// installed before any later commit is queued, and the task does both in order.
///
/// The sink's completions (on the applier's thread) send the acks, straight to the channel, and
/// close the link on a failed apply; `QueuedApplies` is what the task waits on before it moves
/// on, and what holds this link's reads while too much is queued.
final class ReplicaCommitHandler: ChannelDuplexHandler {
    typealias InboundIn = ReplicationMessage
    typealias InboundOut = ReplicationMessage
    typealias OutboundIn = ReplicationMessage
    typealias OutboundOut = ReplicationMessage

    private enum Mode {
        /// Until the writer accepts: this handler answers the writer's handshake messages.
        case handshake(ReplicaHandshake, helloSent: Bool)
        /// This handler queues the commits.
        case streaming(ReplicaStream)
        /// A snapshot started: the task handles everything from here on.
        case passThrough
        /// The handshake failed; the link is closing.
        case failed
    }

    private var mode: Mode
    private let appliedTimestamp: CommitTimestamp
    private let sink: any CommitSink
    private let applies: QueuedApplies
    private let announced: @Sendable (CommitTimestamp) -> Void
    /// A read was asked for while `applies` held reads; it is passed on when they resume.
    private var readHeld = false

    /// - Parameters:
    ///   - handshake: the replica's side of the handshake, not started; its hello names
    ///     `appliedTimestamp`.
    ///   - announced: told the writer's latest timestamp as batches and heartbeats arrive.
    init(
        handshake: ReplicaHandshake, appliedTimestamp: CommitTimestamp, sink: any CommitSink, applies: QueuedApplies,
        announced: @escaping @Sendable (CommitTimestamp) -> Void
    ) {
        self.mode = .handshake(handshake, helloSent: false)
        self.appliedTimestamp = appliedTimestamp
        self.sink = sink
        self.applies = applies
        self.announced = announced
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        applies.onResumeReads {
            loopBound.eventLoop.execute {
                let (handler, context) = loopBound.value
                guard handler.readHeld else { return }
                handler.readHeld = false
                context.read()
            }
        }
        if context.channel.isActive { sendHello(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendHello(context: context)
        context.fireChannelActive()
    }

    func read(context: ChannelHandlerContext) {
        guard !applies.holdsReads() else {
            readHeld = true
            return
        }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        switch mode {
        case .handshake(var handshake, _):
            mode = .failed
            switch handshake.receive(message) {
            case .send(let reply):
                mode = .handshake(handshake, helloSent: true)
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            case .accepted(let latest, let keys):
                // Before anything else is decoded: the next frame is tagged.
                context.triggerUserOutboundEvent(keys, promise: nil)
                mode = .streaming(ReplicaStream(appliedTimestamp: appliedTimestamp, writerLatestTimestamp: latest))
                context.fireChannelRead(data)
            case .refused(let reason):
                fail(context: context, .refused(reason: reason))
            case .fail(let error):
                fail(context: context, error)
            }
        case .passThrough:
            context.fireChannelRead(data)
        case .failed:
            break
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
                    fail(context: context, error)
                    return
                }
                mode = .streaming(stream)
                announced(stream.writerLatestTimestamp)
                switch action {
                case .apply(let commits):
                    Self.queue(commits, following: previous, on: sink, applies: applies, channel: context.channel)
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

    /// Hands `commits` to `sink`, counting them in `applies`; the completion acks them, or closes
    /// the link when the apply failed (the task rethrows the failure from `applies`).
    static func queue(_ commits: [Commit], following previous: CommitTimestamp, on sink: any CommitSink, applies: QueuedApplies, channel: any Channel) {
        let bytes = commits.reduce(0) { $0 + $1.estimatedWireSize }
        applies.queued(bytes: bytes)
        sink.apply(commits, following: previous) { result in
            applies.completed(result, bytes: bytes)
            switch result {
            case .success(let ts): channel.writeAndFlush(ReplicationMessage.ack(appliedTimestamp: ts), promise: nil)
            case .failure: channel.close(promise: nil)
            }
        }
    }

    private func sendHello(context: ChannelHandlerContext) {
        guard case .handshake(var handshake, helloSent: false) = mode else { return }
        let hello = handshake.start()
        mode = .handshake(handshake, helloSent: true)
        context.writeAndFlush(wrapOutboundOut(hello), promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ error: ReplicationError) {
        mode = .failed
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ReplicaCommitHandler: Sendable {}
