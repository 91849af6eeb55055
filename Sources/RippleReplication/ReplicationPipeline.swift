import Logging
import NIOCore

/// Settings both ends of a replication link share.
public struct ReplicationLinkConfiguration: Sendable {
    /// The largest frame accepted or sent (the `length` field, and a decompressed payload).
    public var maxFrameSize: Int
    /// The largest frame accepted before the handshake finished.
    public var maxHandshakeFrameSize: Int
    /// Payloads above this many bytes are LZ4-compressed.
    public var compressionThreshold: Int
    /// How long a requested read may go unanswered before the link is declared dead.
    public var readTimeout: TimeAmount
    /// How long the handshake may take, from connecting to `accepted`.
    public var handshakeTimeout: TimeAmount

    public init(
        maxFrameSize: Int = LogFrame.defaultMaxFrameSize,
        maxHandshakeFrameSize: Int = LogFrame.defaultMaxHandshakeFrameSize,
        compressionThreshold: Int = LogFrame.defaultCompressionThreshold,
        readTimeout: TimeAmount = .seconds(10),
        handshakeTimeout: TimeAmount = .seconds(5)
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxHandshakeFrameSize = maxHandshakeFrameSize
        self.compressionThreshold = compressionThreshold
        self.readTimeout = readTimeout
        self.handshakeTimeout = handshakeTimeout
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the replication link's handlers, head to tail:
    /// `ReadTimeoutHandler` → `LogFrameDecoder` / `LogFrameEncoder` → `FrameAuthenticator` →
    /// `ReplicationMessageCodec` → `LinkErrorHandler`. The channel then reads and writes
    /// `ReplicationMessage`s; the handshake opens it by sending `LinkKeys` as a user outbound event.
    ///
    /// - Parameter opened: called once the handshake opened the link.
    public func addReplicationHandlers(
        configuration: ReplicationLinkConfiguration,
        logger: Logger,
        opened: (@Sendable () -> Void)? = nil
    ) throws {
        let phase = LinkPhase()
        try addHandler(ReadTimeoutHandler(timeout: configuration.readTimeout))
        try addHandler(
            ByteToMessageHandler(
                LogFrameDecoder(
                    maxFrameSize: configuration.maxFrameSize, maxHandshakeFrameSize: configuration.maxHandshakeFrameSize, phase: phase)
            )
        )
        try addHandler(
            MessageToByteHandler(
                LogFrameEncoder(compressionThreshold: configuration.compressionThreshold, maxFrameSize: configuration.maxFrameSize)
            )
        )
        try addHandler(FrameAuthenticator(phase: phase, handshakeTimeout: configuration.handshakeTimeout, opened: opened))
        try addHandler(ReplicationMessageCodec())
        try addHandler(LinkErrorHandler(logger: logger))
    }
}
