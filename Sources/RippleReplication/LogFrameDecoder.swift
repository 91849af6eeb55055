import NIOCore

/// Bytes → `LogFrame`s: waits for a whole frame, checks its size, checksum and type, and
/// decompresses it. Any failure throws a `ReplicationError`; `LinkErrorHandler` then closes the
/// link, since after a bad frame the stream's framing cannot be trusted.
///
/// Until the link's `LinkPhase` is open (the handshake finished) it admits only uncompressed
/// handshake frames of at most `maxHandshakeFrameSize` bytes, and refuses any other as soon as
/// its header arrives, so an unauthenticated peer can make the node neither buffer much nor
/// decompress anything.
public struct LogFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = LogFrame

    /// The largest `length` field, and the largest decompressed payload, accepted.
    public let maxFrameSize: Int
    /// The largest `length` field accepted before the handshake finished.
    public let maxHandshakeFrameSize: Int
    private let phase: LinkPhase

    /// - Parameter phase: the link's; the default, an open one, suits a decoder used on its own.
    public init(
        maxFrameSize: Int = LogFrame.defaultMaxFrameSize,
        maxHandshakeFrameSize: Int = LogFrame.defaultMaxHandshakeFrameSize,
        phase: LinkPhase = LinkPhase(isOpen: true)
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxHandshakeFrameSize = maxHandshakeFrameSize
        self.phase = phase
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let limits = phase.isOpen ? Limits.open(maxFrameSize: maxFrameSize) : Limits.handshake(maxFrameSize: maxHandshakeFrameSize)
        guard let frame = try Self.decodeFrame(from: &buffer, limits: limits, allocator: context.channel.allocator) else {
            return .needMoreData
        }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// What a frame may be at this point of the link.
    public struct Limits: Sendable {
        /// The largest `length` field, and the largest decompressed payload.
        public var maxFrameSize: Int
        /// Whether only uncompressed, untagged handshake frames are admitted.
        public var handshakeOnly: Bool

        public static func open(maxFrameSize: Int) -> Limits { Limits(maxFrameSize: maxFrameSize, handshakeOnly: false) }
        public static func handshake(maxFrameSize: Int) -> Limits { Limits(maxFrameSize: maxFrameSize, handshakeOnly: true) }
    }

    /// Reads one frame from the front of `buffer`, or returns nil (consuming nothing) when the
    /// frame is not complete yet. The pure core of the decoder.
    public static func decodeFrame(
        from buffer: inout ByteBuffer,
        limits: Limits,
        allocator: ByteBufferAllocator
    ) throws(ReplicationError) -> LogFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let frameLength = Int(length)
        guard frameLength <= limits.maxFrameSize else { throw .frameTooLarge(size: frameLength, limit: limits.maxFrameSize) }
        guard frameLength >= LogFrame.headerBytesAfterLength else {
            throw .malformedFrame("length \(frameLength) is shorter than the frame header")
        }
        guard let type = buffer.getInteger(at: buffer.readerIndex + 4, as: UInt8.self) else { return nil }
        let flags = LogFrame.compressedFlag | LogFrame.taggedFlag
        guard let kind = LogFrame.Kind(rawValue: type & ~flags) else { throw .unknownFrameType(type) }
        if limits.handshakeOnly, !kind.isHandshake || type & flags != 0 {
            throw .unexpectedMessage("\(kind) before the handshake finished")
        }
        guard buffer.readableBytes >= 4 + frameLength else { return nil }

        buffer.moveReaderIndex(forwardBy: 5)
        var frame = buffer.readSlice(length: frameLength - 1)!
        let expected: UInt32 = frame.readInteger()!
        var crc = CRC32C()
        crc.update(byte: type)
        frame.withUnsafeReadableBytes { crc.update($0) }
        guard crc.value == expected else { throw .checksumMismatch(expected: expected, actual: crc.value) }

        var tag: [UInt8]?
        if type & LogFrame.taggedFlag != 0 {
            guard frame.readableBytes >= FrameAuthenticator.tagLength else { throw .malformedFrame("frame is shorter than its tag") }
            tag = frame.getBytes(at: frame.writerIndex - FrameAuthenticator.tagLength, length: FrameAuthenticator.tagLength)
            frame.moveWriterIndex(to: frame.writerIndex - FrameAuthenticator.tagLength)
        }
        guard type & LogFrame.compressedFlag != 0 else { return LogFrame(kind: kind, payload: frame, tag: tag) }
        guard let uncompressed: UInt32 = frame.readInteger() else {
            throw .malformedFrame("compressed payload lacks its uncompressed length")
        }
        let uncompressedCount = Int(uncompressed)
        guard uncompressedCount <= limits.maxFrameSize else { throw .frameTooLarge(size: uncompressedCount, limit: limits.maxFrameSize) }
        // LZ4 expands at most 255:1; a larger claim is a lie that would make us allocate for nothing.
        guard uncompressedCount <= frame.readableBytes * LZ4Block.maxExpansion else {
            throw .malformedFrame("\(frame.readableBytes) compressed bytes cannot expand to \(uncompressedCount)")
        }
        let payload = try LZ4Block.decompress(frame, uncompressedCount: uncompressedCount, allocator: allocator)
        return LogFrame(kind: kind, payload: payload, tag: tag)
    }
}
