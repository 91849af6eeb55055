import Logging
import NIOCore

/// Settings both ends of a replication link share.
public struct ReplicationLinkConfiguration: Sendable {
    /// The largest frame accepted or sent (the `length` field, and a decompressed payload).
    public var maxFrameSize: Int
    /// Payloads above this many bytes are LZ4-compressed.
    public var compressionThreshold: Int
    /// How long a requested read may go unanswered before the link is declared dead.
    public var readTimeout: TimeAmount

    public init(
        maxFrameSize: Int = LogFrame.defaultMaxFrameSize,
        compressionThreshold: Int = LogFrame.defaultCompressionThreshold,
        readTimeout: TimeAmount = .seconds(10)
    ) {
        self.maxFrameSize = maxFrameSize
        self.compressionThreshold = compressionThreshold
        self.readTimeout = readTimeout
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds the replication link's handlers, head to tail:
    /// `ReadTimeoutHandler` → `LogFrameDecoder` / `LogFrameEncoder` → `ReplicationMessageCodec`
    /// → `LinkErrorHandler`. The channel then reads and writes `ReplicationMessage`s.
    public func addReplicationHandlers(configuration: ReplicationLinkConfiguration, logger: Logger) throws {
        try addHandler(ReadTimeoutHandler(timeout: configuration.readTimeout))
        try addHandler(ByteToMessageHandler(LogFrameDecoder(maxFrameSize: configuration.maxFrameSize)))
        try addHandler(
            MessageToByteHandler(
                LogFrameEncoder(compressionThreshold: configuration.compressionThreshold, maxFrameSize: configuration.maxFrameSize)
            )
        )
        try addHandler(ReplicationMessageCodec())
        try addHandler(LinkErrorHandler(logger: logger))
    }
}
