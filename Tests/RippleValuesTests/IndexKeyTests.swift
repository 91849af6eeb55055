import Testing

@testable import RippleValues

@Suite struct IndexKeyTests {
    static func key(_ fields: Value?...) -> IndexKey {
        var key = IndexKey()
        for field in fields { key.append(field) }
        return key
    }

    static func memcmpSign(_ a: IndexKey, _ b: IndexKey) -> Int {
        a.bytes.lexicographicallyPrecedes(b.bytes) ? -1 : (a.bytes == b.bytes ? 0 : 1)
    }

    /// `nil` (a missing field) sorts before every value.
    static func compare(_ a: Value?, _ b: Value?) -> Int {
        switch (a, b) {
        case (nil, nil): 0
        case (nil, _): -1
        case (_, nil): 1
        case (let a?, let b?): Value.compare(a, b)
        }
    }

    @Test func encodingsOfScalars() {
        #expect(Self.key(nil).bytes == [0x01])
        #expect(Self.key(.null).bytes == [0x02])
        #expect(Self.key(.int64(0)).bytes == [0x03, 0x80, 0, 0, 0, 0, 0, 0, 0])
        #expect(Self.key(.int64(-1)).bytes == [0x03, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(Self.key(.float64(0)).bytes == [0x04, 0x80, 0, 0, 0, 0, 0, 0, 0])
        #expect(Self.key(.boolean(false)).bytes == [0x05])
        #expect(Self.key(.boolean(true)).bytes == [0x06])
        #expect(Self.key(.string("a\0b")).bytes == [0x07, 0x61, 0x00, 0xFF, 0x62, 0x00])
        #expect(Self.key(.bytes([0xFF, 0x00])).bytes == [0x08, 0xFF, 0x00, 0xFF, 0x00])
        #expect(Self.key(.array([.null])).bytes == [0x09, 0x02, 0x00])
        #expect(Self.key(.object(["a": .null])).bytes == [0x0A, 0x01, 0x61, 0x00, 0x02, 0x00])
    }

    @Test func orderAgreesWithValueCompareOnRandomPairs() {
        var gen = RandomValues(seed: 0x5EED)
        for _ in 0..<4000 {
            let a = gen.value()
            let b = gen.chance(0.5) ? gen.neighbor(of: a) : gen.value()
            let expected = Value.compare(a, b)
            let actual = Self.memcmpSign(Self.key(a), Self.key(b))
            #expect(actual == expected, "\(a) vs \(b)")
        }
    }

    @Test func orderAgreesForMultiFieldKeys() {
        var gen = RandomValues(seed: 0xF1E1D5)
        for _ in 0..<4000 {
            let a1: Value? = gen.chance(0.1) ? nil : gen.value()
            let a2: Value? = gen.chance(0.1) ? nil : gen.value()
            let b1: Value? = gen.chance(0.6) ? a1.map { gen.neighbor(of: $0) } : gen.value()
            let b2: Value? = gen.chance(0.5) ? a2.map { gen.neighbor(of: $0) } : gen.value()
            let first = Self.compare(a1, b1)
            let expected = first != 0 ? first : Self.compare(a2, b2)
            let actual = Self.memcmpSign(Self.key(a1, a2), Self.key(b1, b2))
            #expect(
                actual == expected, "(\(String(describing: a1)), \(String(describing: a2))) vs (\(String(describing: b1)), \(String(describing: b2)))"
            )
        }
    }

    @Test func prefixEndBoundsExactlyTheKeysWithThatPrefix() {
        var gen = RandomValues(seed: 42)
        for _ in 0..<3000 {
            let p = gen.value()
            let first = gen.chance(0.5) ? gen.neighbor(of: p) : gen.value()
            let prefix = Self.key(p)
            let full = Self.key(first, gen.chance(0.2) ? nil : gen.value())
            let inRange = prefix <= full && full < prefix.prefixEnd
            #expect(inRange == (Value.compare(first, p) == 0), "prefix \(p), first field \(first)")
        }
    }

    @Test func prefixEndOfTwoFields() {
        let prefix = Self.key("a", .null)
        #expect(prefix < Self.key("a", .null, .object([:])))
        #expect(Self.key("a", .null, .object(["z": .bytes([0xFF, 0xFF])])) < prefix.prefixEnd)
        #expect(Self.key("a", .int64(0)) > prefix.prefixEnd)
        #expect(Self.key("a\0") > prefix.prefixEnd)
        #expect(IndexKey().prefixEnd.bytes == [0xFF])
    }

    @Test func forDocumentAppendsCreationTimeAndID() {
        let doc: [String: Value] = [
            "_id": "abc", "_creationTime": 1_700_000_000_000.5, "author": ["name": "ann"], "channel": "general",
        ]
        let key = IndexKey.forDocument(doc, fields: ["channel", "author.name", "missing"])
        #expect(key == Self.key("general", "ann", nil, 1_700_000_000_000.5, "abc"))
        #expect(IndexKey.forDocument(doc, fields: []) == Self.key(1_700_000_000_000.5, "abc"))
    }

    @Test func lookupFollowsDottedPaths() {
        let doc: [String: Value] = ["a": ["b": ["c": 1]], "x": "s", "a.b": "literal"]
        #expect(doc.lookup(path: "a.b.c") == 1)
        #expect(doc.lookup(path: "a.b") == .object(["c": 1]))
        #expect(doc.lookup(path: "x") == "s")
        #expect(doc.lookup(path: "x.y") == nil)
        #expect(doc.lookup(path: "a.z.c") == nil)
        #expect(doc.lookup(path: "a..b") == nil)
    }

    @Test func description() {
        #expect(Self.key(.null, true).description == "2 6")
    }
}
