import Testing

@testable import RippleValues

@Suite struct ValueCodecTests {
    @Test func exactEncodings() {
        #expect(ValueCodec.encode(.null) == [0])
        #expect(ValueCodec.encode(.int64(1)) == [1, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(ValueCodec.encode(.float64(1)) == [2, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
        #expect(ValueCodec.encode(.boolean(false)) == [3])
        #expect(ValueCodec.encode(.boolean(true)) == [4])
        #expect(ValueCodec.encode(.string("hé")) == [5, 3, 0x68, 0xC3, 0xA9])
        #expect(ValueCodec.encode(.bytes([9])) == [6, 1, 9])
        #expect(ValueCodec.encode(.array([.null])) == [7, 1, 0])
        #expect(ValueCodec.encode(.object(["b": .null, "a": true])) == [8, 2, 1, 0x61, 4, 1, 0x62, 0])
        #expect(ValueCodec.encode(.bytes(Array(repeating: 0, count: 200))).prefix(3) == [6, 0xC8, 0x01])
    }

    @Test func roundTripsRandomValues() throws {
        var gen = RandomValues(seed: 2024)
        gen.maxDepth = 4
        for _ in 0..<2000 {
            let value = gen.value()
            let encoded = ValueCodec.encode(value)
            let decoded = try ValueCodec.decode(encoded)
            #expect(decoded == value, "\(value)")
            // Bit-exact, including NaN payloads and -0.
            #expect(ValueCodec.encode(decoded) == encoded)
        }
    }

    @Test func encodingIsDeterministicForObjects() {
        var a: [String: Value] = [:]
        var b: [String: Value] = [:]
        let keys = (0..<50).map { "k\($0)" }
        for k in keys { a[k] = .string(k) }
        for k in keys.reversed() { b[k] = .string(k) }
        #expect(ValueCodec.encode(.object(a)) == ValueCodec.encode(.object(b)))
    }

    @Test func everyTruncationFails() {
        var gen = RandomValues(seed: 5)
        for _ in 0..<200 {
            let encoded = ValueCodec.encode(gen.value())
            for n in 0..<encoded.count {
                #expect(throws: ValueError.self) { try ValueCodec.decode(Array(encoded.prefix(n))) }
            }
        }
    }

    @Test func trailingBytesFail() {
        let error = #expect(throws: ValueError.self) { try ValueCodec.decode(ValueCodec.encode(.null) + [0]) }
        #expect(error?.message == "stored value has trailing bytes")
    }

    @Test(arguments: [
        ([UInt8](), "truncated value"),
        ([9], "unknown tag"),
        ([0xFF], "unknown tag"),
        ([5, 2, 0xC3, 0x28], "not UTF-8"),
        ([8, 1, 1, 0xFF, 0], "not UTF-8"),
        ([1, 1, 2, 3], "truncated value"),
        ([5, 5, 0x61], "truncated value"),
        // Lengths and counts far beyond the input, up to 2^64 - 1.
        ([5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "truncated value"),
        ([6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "truncated value"),
        ([7, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "count is corrupt"),
        ([8, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "count is corrupt"),
        ([7, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02], "varint overflow"),
        ([7, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00], "varint overflow"),
        ([7, 0x80], "truncated value"),
        ([7, 3, 0, 0, 5], "truncated value"),
        ([7, 3, 0, 0], "count is corrupt"),
        ([8, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0], "truncated value"),
    ])
    func corruptInputFails(bytes: [UInt8], message: String) {
        let error = #expect(throws: ValueError.self) { try ValueCodec.decode(bytes) }
        #expect(error?.message.contains(message) == true, "\(bytes): \(error?.message ?? "no error")")
    }

    @Test func deepNestingFails() {
        let deep: [UInt8] = Array([[UInt8]](repeating: [7, 1], count: 300).joined()) + [0]
        let error = #expect(throws: ValueError.self) { try ValueCodec.decode(deep) }
        #expect(error?.message == "stored value nested too deeply")
        let ok: [UInt8] = Array([[UInt8]](repeating: [7, 1], count: 200).joined()) + [0]
        #expect(throws: Never.self) { try ValueCodec.decode(ok) }
    }

    @Test func randomCorruptionNeverCrashes() {
        var gen = RandomValues(seed: 77)
        for _ in 0..<2000 {
            var bytes = ValueCodec.encode(gen.value())
            for _ in 0..<gen.int(1...3) {
                let i = gen.int(0...bytes.count - 1)
                bytes[i] = gen.chance(0.5) ? UInt8(truncatingIfNeeded: gen.rng.next()) : 0xFF
            }
            _ = try? ValueCodec.decode(bytes)
        }
        for _ in 0..<2000 {
            let garbage = (0..<gen.int(0...24)).map { _ in UInt8(truncatingIfNeeded: gen.rng.next()) }
            _ = try? ValueCodec.decode(garbage)
        }
    }

    @Test func decodesFromARawBuffer() throws {
        let encoded = ValueCodec.encode(["a": [1, .int64(2)]])
        let value = try encoded.withUnsafeBytes { buffer in try ValueCodec.decode(buffer) }
        #expect(value == ["a": [1, .int64(2)]])
    }

    @Test func byteReader() {
        var out: [UInt8] = []
        appendVarint(300, to: &out)
        appendFixed64(0x0102_0304_0506_0708, to: &out)
        appendVarint(UInt64.max, to: &out)
        out += Array("hi".utf8)
        let (numbers, text, atEnd, pastEnd) = out.withUnsafeBytes { buffer in
            var reader = ByteReader(buffer)
            let numbers = [try? reader.varint(), try? reader.fixed64(), try? reader.varint()]
            let text = try? reader.string(count: 2)
            return (numbers, text, reader.isAtEnd, try? reader.byte())
        }
        #expect(numbers == [300, 0x0102_0304_0506_0708, .max])
        #expect(text == "hi")
        #expect(atEnd)
        #expect(pastEnd == nil)
    }
}
