/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of every `LogFrame`.
///
/// Slicing-by-8: eight 256-entry tables let the loop consume eight bytes per step, which keeps
/// checksumming a 4 MiB catch-up frame cheap even in debug builds.
public struct CRC32C: Sendable, Equatable {
    private var state: UInt32 = 0xFFFF_FFFF

    /// A checksum over no bytes yet.
    public init() {}

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = CRC32C()
        crc.update(bytes)
        return crc.value
    }

    /// The checksum of everything fed so far.
    public var value: UInt32 { ~state }

    /// Feeds one byte.
    public mutating func update(byte: UInt8) {
        state = crc32cTables[Int((state ^ UInt32(byte)) & 0xFF)] ^ (state >> 8)
    }

    /// Feeds `bytes`, using contiguous storage when the sequence has it.
    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            update(UnsafeRawBufferPointer(buffer))
        }
        if handled == nil {
            for byte in bytes { update(byte: byte) }
        }
    }

    /// Feeds raw bytes.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        var crc = state
        var index = 0
        let count = buffer.count
        crc32cTables.withUnsafeBufferPointer { t in
            while count - index >= 8 {
                let low =
                    crc
                    ^ (UInt32(buffer[index]) | UInt32(buffer[index + 1]) << 8
                        | UInt32(buffer[index + 2]) << 16 | UInt32(buffer[index + 3]) << 24)
                let high =
                    UInt32(buffer[index + 4]) | UInt32(buffer[index + 5]) << 8
                    | UInt32(buffer[index + 6]) << 16 | UInt32(buffer[index + 7]) << 24
                crc =
                    t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                index += 8
            }
            while index < count {
                crc = t[Int((crc ^ UInt32(buffer[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        state = crc
    }
}

/// Table `k` (at offset `k * 256`) advances a byte through `k` further zero bytes.
private let crc32cTables: [UInt32] = {
    var tables = [UInt32](repeating: 0, count: 8 * 256)
    for n in 0..<256 {
        var crc = UInt32(n)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        tables[n] = crc
    }
    for n in 0..<256 {
        for k in 1..<8 {
            let previous = tables[(k - 1) * 256 + n]
            tables[k * 256 + n] = tables[Int(previous & 0xFF)] ^ (previous >> 8)
        }
    }
    return tables
}()
