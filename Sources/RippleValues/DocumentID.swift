/// A document's `_id`: an opaque string to clients that encodes the table it belongs to.
///
/// Layout before base32 (Convex's alphabet): varint table number, 8-byte big-endian document
/// number (the storage row, assigned in commit order), 8 random bytes, 2-byte Fletcher-16
/// checksum. The random half keeps ids unguessable; the checksum turns typos into errors.
public struct DocumentID: Hashable, Sendable, CustomStringConvertible {
    public let tableNumber: UInt32
    public let documentNumber: Int64
    public let random: UInt64

    public init(tableNumber: UInt32, documentNumber: Int64, random: UInt64) {
        self.tableNumber = tableNumber
        self.documentNumber = documentNumber
        self.random = random
    }

    public var string: String {
        // At most 5 + 8 + 8 + 2 bytes: built on the stack, encoded straight into the string.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 23) { raw in
            var count = 0
            var table = UInt64(tableNumber)
            while table >= 0x80 {
                raw[count] = UInt8(truncatingIfNeeded: table) | 0x80
                table >>= 7
                count += 1
            }
            raw[count] = UInt8(table)
            count += 1
            for shift in stride(from: 56, through: 0, by: -8) {
                raw[count] = UInt8(truncatingIfNeeded: UInt64(bitPattern: documentNumber) >> UInt64(shift))
                count += 1
            }
            for shift in stride(from: 56, through: 0, by: -8) {
                raw[count] = UInt8(truncatingIfNeeded: random >> UInt64(shift))
                count += 1
            }
            let sum = fletcher16(UnsafeBufferPointer(rebasing: raw[0..<count]))
            raw[count] = UInt8(sum >> 8)
            raw[count + 1] = UInt8(sum & 0xFF)
            return Base32.encode(UnsafeBufferPointer(rebasing: raw[0..<count + 2]))
        }
    }

    public var description: String { string }

    /// Parses an id string; `nil` if it is not one (wrong alphabet, length or checksum).
    public init?(_ text: String) {
        guard text.utf8.count >= 28, text.utf8.count <= 40, let raw = Base32.decode(text), raw.count >= 19 else { return nil }
        let body = Array(raw[0..<raw.count - 2])
        let sum = UInt16(raw[raw.count - 2]) << 8 | UInt16(raw[raw.count - 1])
        guard fletcher16(body) == sum else { return nil }
        var table: UInt64 = 0
        var shift: UInt64 = 0
        var i = 0
        while i < body.count {
            let b = body[i]
            table |= UInt64(b & 0x7F) << shift
            i += 1
            if b & 0x80 == 0 { break }
            shift += 7
            if shift > 28 { return nil }
        }
        guard body.count - i == 16, table <= UInt64(UInt32.max) else { return nil }
        var number: UInt64 = 0
        for j in 0..<8 { number = number << 8 | UInt64(body[i + j]) }
        var random: UInt64 = 0
        for j in 8..<16 { random = random << 8 | UInt64(body[i + j]) }
        self.init(tableNumber: UInt32(table), documentNumber: Int64(bitPattern: number), random: random)
    }
}

func fletcher16(_ bytes: [UInt8]) -> UInt16 {
    bytes.withUnsafeBufferPointer { fletcher16($0) }
}

func fletcher16(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt16 {
    // Reduced once at the end, which gives the same sums as reducing at every byte: ids are a
    // few dozen bytes, and 64-bit sums overflow only past 2^28 of them.
    var a: UInt64 = 0
    var b: UInt64 = 0
    for x in bytes {
        a += UInt64(x)
        b += a
    }
    return UInt16(b % 255) << 8 | UInt16(a % 255)
}

/// Base32 with Convex's id alphabet (no i, l, o, u), unpadded.
enum Base32 {
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)
    static let reverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { encode($0) }
    }

    static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(unsafeUninitializedCapacity: (bytes.count * 8 + 4) / 5) { out in
            var count = 0
            var buffer: UInt32 = 0
            var bits = 0
            for b in bytes {
                buffer = buffer << 8 | UInt32(b)
                bits += 8
                while bits >= 5 {
                    out[count] = alphabet[Int((buffer >> UInt32(bits - 5)) & 31)]
                    count += 1
                    bits -= 5
                }
            }
            if bits > 0 {
                out[count] = alphabet[Int((buffer << UInt32(5 - bits)) & 31)]
                count += 1
            }
            return count
        }
    }

    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v = reverse[Int(c)]
            if v < 0 { return nil }
            buffer = buffer << 5 | UInt32(v)
            bits += 5
            if bits >= 8 {
                out.append(UInt8((buffer >> UInt32(bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        // Leftover bits must be zero padding, so each id has exactly one spelling.
        if bits > 0 && (buffer & ((1 << UInt32(bits)) - 1)) != 0 { return nil }
        return out
    }
}
