import CLZ4
import NIOCore

/// LZ4 block compression between `ByteBuffer`s, for frame payloads.
enum LZ4Block {
    /// The most an LZ4 block expands: a run of 255-byte length extensions per literal.
    static let maxExpansion = 255
    /// Appends `input` compressed to `output` and returns true, or leaves `output` as it was and
    /// returns false when compression fails or would not save space.
    static func compress(_ input: ByteBuffer, appendingTo output: inout ByteBuffer) -> Bool {
        let sourceCount = input.readableBytes
        guard sourceCount > 0, sourceCount <= Int(LZ4_MAX_INPUT_SIZE) else { return false }
        let bound = Int(LZ4_compressBound(Int32(sourceCount)))
        let start = output.writerIndex
        let written = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { destination in
                let produced = LZ4_compress_default(
                    source.baseAddress!.assumingMemoryBound(to: CChar.self),
                    destination.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(sourceCount),
                    Int32(clamping: destination.count)
                )
                return Int(max(produced, 0))
            }
        }
        guard written > 0, written < sourceCount else {
            output.moveWriterIndex(to: start)
            return false
        }
        return true
    }

    /// Decompresses `input`, which must expand to exactly `uncompressedCount` bytes.
    static func decompress(
        _ input: ByteBuffer,
        uncompressedCount: Int,
        allocator: ByteBufferAllocator
    ) throws(ReplicationError) -> ByteBuffer {
        var output = allocator.buffer(capacity: uncompressedCount)
        guard uncompressedCount > 0 else {
            guard input.readableBytes == 0 else { throw .malformedFrame("compressed payload for zero bytes") }
            return output
        }
        guard input.readableBytes > 0, input.readableBytes <= Int(Int32.max) else {
            throw .malformedFrame("compressed payload is empty or too long")
        }
        let produced = input.withUnsafeReadableBytes { source in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: uncompressedCount) { destination in
                let result = LZ4_decompress_safe(
                    source.baseAddress!.assumingMemoryBound(to: CChar.self),
                    destination.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(source.count),
                    Int32(uncompressedCount)
                )
                return Int(max(result, 0))
            }
        }
        guard produced == uncompressedCount else {
            throw .malformedFrame("LZ4 payload does not decompress to \(uncompressedCount) bytes")
        }
        return output
    }
}
