import NIOCore

/// Bytes → `LogFrame`s: waits for a whole frame, checks its size, checksum and type, and
/// decompresses it. Any failure throws a `ReplicationError`; `LinkErrorHandler` then closes the
/// link, since after a bad frame the stream's framing cannot be trusted.
public struct LogFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = LogFrame

    /// The largest `length` field, and the largest decompressed payload, accepted.
    public let maxFrameSize: Int

    public init(maxFrameSize: Int = LogFrame.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.decodeFrame(from: &buffer, maxFrameSize: maxFrameSize, allocator: context.channel.allocator) else {
            return .needMoreData
        }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// Reads one frame from the front of `buffer`, or returns nil (consuming nothing) when the
    /// frame is not complete yet. The pure core of the decoder.
    public static func decodeFrame(
        from buffer: inout ByteBuffer,
        maxFrameSize: Int,
        allocator: ByteBufferAllocator
    ) throws(ReplicationError) -> LogFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let frameLength = Int(length)
        guard frameLength <= maxFrameSize else { throw .frameTooLarge(size: frameLength, limit: maxFrameSize) }
        guard frameLength >= LogFrame.headerBytesAfterLength else {
            throw .malformedFrame("length \(frameLength) is shorter than the frame header")
        }
        guard buffer.readableBytes >= 4 + frameLength else { return nil }

        buffer.moveReaderIndex(forwardBy: 4)
        var frame = buffer.readSlice(length: frameLength)!
        let type: UInt8 = frame.readInteger()!
        let expected: UInt32 = frame.readInteger()!
        var crc = CRC32C()
        crc.update(byte: type)
        frame.withUnsafeReadableBytes { crc.update($0) }
        guard crc.value == expected else { throw .checksumMismatch(expected: expected, actual: crc.value) }
        guard let kind = LogFrame.Kind(rawValue: type & ~LogFrame.compressedFlag) else { throw .unknownFrameType(type) }

        guard type & LogFrame.compressedFlag != 0 else { return LogFrame(kind: kind, payload: frame) }
        guard let uncompressed: UInt32 = frame.readInteger() else {
            throw .malformedFrame("compressed payload lacks its uncompressed length")
        }
        guard Int(uncompressed) <= maxFrameSize else { throw .frameTooLarge(size: Int(uncompressed), limit: maxFrameSize) }
        let payload = try LZ4Block.decompress(frame, uncompressedCount: Int(uncompressed), allocator: allocator)
        return LogFrame(kind: kind, payload: payload)
    }
}
