import NIOCore
import RippleReplication

/// Bytes from the replication port, through the frame decoder's pure core (checksum, flags,
/// tag, LZ4): the first input byte picks an open link or one still in its handshake, the rest
/// is the stream. Every frame decodes or throws `ReplicationError`, never traps, never
/// allocates beyond its limit; a decoded frame re-encodes to a frame that decodes the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLogFrame(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let limits: LogFrameDecoder.Limits =
        start[0] & 1 == 0
        ? .open(maxFrameSize: LogFrame.defaultMaxFrameSize) : .handshake(maxFrameSize: LogFrame.defaultMaxHandshakeFrameSize)
    let allocator = ByteBufferAllocator()
    var stream = ByteBuffer(bytes: UnsafeBufferPointer(start: start + 1, count: count - 1))
    while true {
        let frame: LogFrame
        do {
            guard let decoded = try LogFrameDecoder.decodeFrame(from: &stream, limits: limits, allocator: allocator) else { return 0 }
            frame = decoded
        } catch {
            return 0
        }
        var encoded = ByteBuffer()
        do {
            try LogFrameEncoder.encode(frame, into: &encoded)
        } catch {
            preconditionFailure("a decoded frame does not re-encode: \(error)")
        }
        let again = try? LogFrameDecoder.decodeFrame(from: &encoded, limits: .open(maxFrameSize: LogFrame.defaultMaxFrameSize), allocator: allocator)
        precondition(again == frame, "a frame changed through its encoding")
        precondition(encoded.readableBytes == 0, "a re-encoded frame left bytes behind")
        _ = try? ReplicationMessage(frame: frame)
    }
}
