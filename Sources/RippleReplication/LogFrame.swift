import NIOCore

/// One unit on the replication link, before compression and after decompression.
///
/// Wire format (all integers big-endian):
///
/// ```
/// length u32 | type u8 | crc32c u32 | payload | tag?
/// ```
///
/// - `length` counts the bytes after the length field: `1 + 4 + payload.count (+ tag)`, so a
///   frame occupies `4 + length` bytes on the wire.
/// - `type` is the `Kind` in the low six bits; the high bit (`compressedFlag`) says the payload
///   is `uncompressedLength u32 | LZ4 block`; the next (`taggedFlag`) says the frame ends with a
///   `FrameAuthenticator.tagLength`-byte tag, which every frame after the handshake carries.
/// - `crc32c` covers everything after it exactly as sent (compressed or not), so a corrupted
///   frame is rejected before it reaches the decompressor.
public struct LogFrame: Sendable, Equatable {
    /// What the payload holds; one kind per `ReplicationMessage` case.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case hello = 1
        case challenge = 2
        case proof = 3
        case accepted = 4
        case refused = 5
        case commits = 6
        case heartbeat = 7
        case ack = 8
        case snapshotBegin = 9
        case snapshotChunk = 10
        case snapshotEnd = 11
        case forward = 12
        case forwardResult = 13
    }

    /// Set in the type byte when the payload is LZ4-compressed.
    public static let compressedFlag: UInt8 = 0x80
    /// Set in the type byte when the frame ends with a tag.
    public static let taggedFlag: UInt8 = 0x40
    /// Bytes after the length field that are not payload: type and checksum.
    public static let headerBytesAfterLength = 5
    /// The default cap on `length` and on a decompressed payload.
    public static let defaultMaxFrameSize = 64 << 20
    /// The cap on `length` until the handshake has opened the link: handshake messages are tiny,
    /// and an unauthenticated peer must not make the node buffer more.
    public static let defaultMaxHandshakeFrameSize = 64 << 10
    /// Payloads above this many bytes are compressed (when that makes them smaller).
    public static let defaultCompressionThreshold = 512

    public var kind: Kind
    /// The uncompressed payload.
    public var payload: ByteBuffer
    /// The `FrameAuthenticator`'s tag, on the wire between it and the peer's; nil elsewhere.
    public var tag: [UInt8]?

    public init(kind: Kind, payload: ByteBuffer, tag: [UInt8]? = nil) {
        self.kind = kind
        self.payload = payload
        self.tag = tag
    }
}
