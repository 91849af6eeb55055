import Crypto
import NIOCore

/// Whether a link has finished its handshake. Owned by the `FrameAuthenticator`, which opens it
/// when the handshake hands it the link's keys; read by the `LogFrameDecoder`, which until then
/// admits only small, uncompressed handshake frames. Both run on the link's event loop.
public final class LinkPhase {
    public fileprivate(set) var isOpen: Bool

    /// - Parameter isOpen: true only for a decoder used on its own (tests, fuzzing).
    public init(isOpen: Bool = false) {
        self.isOpen = isOpen
    }
}

@available(*, unavailable)
extension LinkPhase: Sendable {}

/// Authenticates every frame after the handshake, and bounds the handshake itself.
///
/// Until the handshake opens the link only handshake frames pass, and the link fails with
/// `ReplicationError.handshakeTimedOut` if it has not opened within `handshakeTimeout`. The
/// handshake opens it by sending the link's `LinkKeys` as a user outbound event, at the frame
/// boundary right after `accepted`; from then on each frame carries a tag,
/// `HMAC-SHA256(key, sequence ‖ type ‖ payload)` truncated to `tagLength` bytes, under the key
/// of its direction and a sequence number counting that direction's frames from 0. A frame whose
/// tag does not match — forged, replayed, reordered, dropped before it, or sent back to its
/// sender — fails the link with `ReplicationError.frameNotAuthenticated`.
///
/// The tag covers the payload before compression, so it is computed once per message whatever
/// the encoder does with it.
public final class FrameAuthenticator: ChannelDuplexHandler {
    public typealias InboundIn = LogFrame
    public typealias InboundOut = LogFrame
    public typealias OutboundIn = LogFrame
    public typealias OutboundOut = LogFrame

    /// Bytes of HMAC-SHA256 kept per frame: 128 bits, as in TLS's truncated-HMAC suites; a forger
    /// gets one try per link.
    public static let tagLength = 16

    private struct Direction {
        /// The HMAC with its key already absorbed; each frame's MAC starts from a copy.
        let keyed: HMAC<SHA256>
        var sequence: UInt64 = 0

        init(key: [UInt8]) {
            keyed = HMAC<SHA256>(key: SymmetricKey(data: key))
        }

        mutating func tag(_ frame: LogFrame) -> [UInt8] {
            var mac = keyed
            withUnsafeBytes(of: sequence.bigEndian) { mac.update(data: $0) }
            withUnsafeBytes(of: frame.kind.rawValue) { mac.update(data: $0) }
            frame.payload.withUnsafeReadableBytes { mac.update(data: $0) }
            sequence &+= 1
            return Array(Array(mac.finalize()).prefix(FrameAuthenticator.tagLength))
        }
    }

    private enum State {
        case handshake(deadline: Scheduled<Void>?)
        case open(sending: Direction, receiving: Direction)
        case failed
    }

    private let phase: LinkPhase
    private let handshakeTimeout: TimeAmount
    private let opened: (@Sendable () -> Void)?
    private var state = State.handshake(deadline: nil)

    /// - Parameter opened: called once the handshake opened the link (the writer counts links
    ///   still in their handshake).
    public init(phase: LinkPhase, handshakeTimeout: TimeAmount, opened: (@Sendable () -> Void)? = nil) {
        self.phase = phase
        self.handshakeTimeout = handshakeTimeout
        self.opened = opened
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startDeadline(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        startDeadline(context: context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        if case .handshake(let deadline) = state { deadline?.cancel() }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        switch state {
        case .handshake:
            guard frame.kind.isHandshake, frame.tag == nil else {
                return fail(context: context, .unexpectedMessage("\(frame.kind) before the handshake finished"))
            }
            context.fireChannelRead(data)
        case .open(let sending, var receiving):
            guard let tag = frame.tag, Self.constantTimeEqual(tag, receiving.tag(frame)) else {
                return fail(context: context, .frameNotAuthenticated)
            }
            state = .open(sending: sending, receiving: receiving)
            frame.tag = nil
            context.fireChannelRead(wrapInboundOut(frame))
        case .failed:
            break
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .open(var sending, let receiving) = state else { return context.write(data, promise: promise) }
        var frame = unwrapOutboundIn(data)
        frame.tag = sending.tag(frame)
        state = .open(sending: sending, receiving: receiving)
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let keys = event as? LinkKeys else { return context.triggerUserOutboundEvent(event, promise: promise) }
        guard case .handshake(let deadline) = state else {
            promise?.fail(ReplicationError.unexpectedMessage("link keys after the handshake"))
            return
        }
        deadline?.cancel()
        state = .open(sending: Direction(key: keys.sending), receiving: Direction(key: keys.receiving))
        phase.isOpen = true
        opened?()
        promise?.succeed()
    }

    private func startDeadline(context: ChannelHandlerContext) {
        guard case .handshake(deadline: .none) = state else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        state = .handshake(
            deadline: context.eventLoop.scheduleTask(in: handshakeTimeout) {
                let (handler, context) = loopBound.value
                guard case .handshake = handler.state else { return }
                handler.fail(context: context, .handshakeTimedOut)
            })
    }

    private func fail(context: ChannelHandlerContext, _ error: ReplicationError) {
        if case .handshake(let deadline) = state { deadline?.cancel() }
        state = .failed
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

@available(*, unavailable)
extension FrameAuthenticator: Sendable {}

extension LogFrame.Kind {
    /// The kinds a link carries before its handshake finished.
    public var isHandshake: Bool {
        switch self {
        case .hello, .challenge, .proof, .accepted, .refused: true
        default: false
        }
    }
}
