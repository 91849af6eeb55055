import Testing

@testable import RippleReplication

@Suite struct CRC32CTests {
    @Test func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    /// RFC 3720 (iSCSI) appendix B.4 vectors.
    @Test func iscsiVectors() {
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func incrementalMatchesOneShotForEveryLengthAndSplit() {
        let bytes = (0..<67).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for length in 0...bytes.count {
            let whole = CRC32C.checksum(bytes[..<length])
            var byteByByte = CRC32C()
            for byte in bytes[..<length] { byteByByte.update(byte: byte) }
            #expect(byteByByte.value == whole)
            for split in 0...length {
                var crc = CRC32C()
                crc.update(bytes[..<split])
                crc.update(bytes[split..<length])
                #expect(crc.value == whole)
            }
        }
    }
}
