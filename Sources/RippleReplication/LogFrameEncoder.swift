import NIOCore

/// `LogFrame`s → bytes: writes the header, compresses payloads above the threshold when that
/// saves space, and fills in the checksum. The inverse of `LogFrameDecoder`.
public struct LogFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = LogFrame

    /// Payloads larger than this many bytes are LZ4-compressed.
    public let compressionThreshold: Int
    /// Frames whose `length` would exceed this are refused (the peer would refuse them too).
    public let maxFrameSize: Int

    public init(
        compressionThreshold: Int = LogFrame.defaultCompressionThreshold,
        maxFrameSize: Int = LogFrame.defaultMaxFrameSize
    ) {
        self.compressionThreshold = compressionThreshold
        self.maxFrameSize = maxFrameSize
    }

    public func encode(data frame: LogFrame, out: inout ByteBuffer) throws {
        try Self.encode(frame, into: &out, compressionThreshold: compressionThreshold, maxFrameSize: maxFrameSize)
    }

    /// Appends `frame` to `out`. The pure core of the encoder.
    public static func encode(
        _ frame: LogFrame,
        into out: inout ByteBuffer,
        compressionThreshold: Int = LogFrame.defaultCompressionThreshold,
        maxFrameSize: Int = LogFrame.defaultMaxFrameSize
    ) throws(ReplicationError) {
        let start = out.writerIndex
        out.writeInteger(UInt32(0))
        out.writeInteger(UInt8(0))
        out.writeInteger(UInt32(0))
        let payloadStart = out.writerIndex
        var type = frame.kind.rawValue

        var compressed = false
        let payloadCount = frame.payload.readableBytes
        if payloadCount > compressionThreshold, payloadCount <= Int(UInt32.max) {
            out.writeInteger(UInt32(payloadCount))
            compressed = LZ4Block.compress(frame.payload, appendingTo: &out)
            if !compressed { out.moveWriterIndex(to: payloadStart) }
        }
        if compressed {
            type |= LogFrame.compressedFlag
        } else {
            out.writeImmutableBuffer(frame.payload)
        }
        if let tag = frame.tag {
            type |= LogFrame.taggedFlag
            out.writeBytes(tag)
        }

        let length = out.writerIndex - start - 4
        guard length <= maxFrameSize else {
            out.moveWriterIndex(to: start)
            throw .frameTooLarge(size: length, limit: maxFrameSize)
        }
        var crc = CRC32C()
        crc.update(byte: type)
        let payloadOffset = payloadStart - out.readerIndex
        out.withUnsafeReadableBytes { bytes in
            crc.update(UnsafeRawBufferPointer(rebasing: bytes[payloadOffset...]))
        }
        out.setInteger(UInt32(length), at: start)
        out.setInteger(type, at: start + 4)
        out.setInteger(crc.value, at: start + 5)
    }
}
