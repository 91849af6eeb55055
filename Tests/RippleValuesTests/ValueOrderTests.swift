import Testing

@testable import RippleValues

@Suite struct ValueOrderTests {
    @Test func typesSortInConvexOrder() {
        let ascending: [Value] = [
            .null, .int64(.max), .float64(-.infinity), .boolean(false), .string(""), .bytes([]), .array([]), .object([:]),
        ]
        for (i, a) in ascending.enumerated() {
            for (j, b) in ascending.enumerated() {
                #expect(Value.compare(a, b) == (i < j ? -1 : (i == j ? 0 : 1)), "\(a) vs \(b)")
            }
        }
    }

    @Test func floatsFollowIEEETotalOrder() {
        let ascending: [Double] = [
            -.nan, -.infinity, -.greatestFiniteMagnitude, -1, -.leastNonzeroMagnitude, -0.0, 0.0,
            .leastNonzeroMagnitude, 1, .greatestFiniteMagnitude, .infinity, .nan,
        ]
        let values = ascending.map(Value.float64)
        #expect(values.sorted() == values)
        #expect(values.shuffled().sorted() == values)
        #expect(Value.float64(.nan) == .float64(.nan))
        #expect(Value.float64(-0.0) != .float64(0.0))
        #expect(Value.float64(-0.0) < .float64(0.0))
    }

    @Test func integersAndBooleans() {
        #expect(Value.int64(.min) < .int64(-1))
        #expect(Value.int64(-1) < .int64(0))
        #expect(Value.int64(0) < .int64(.max))
        #expect(Value.boolean(false) < .boolean(true))
        // Different types never compare numerically: any bigint sorts before any number.
        #expect(Value.int64(5) < .float64(1))
    }

    @Test func stringsCompareByUTF8Bytes() {
        #expect(Value.string("Z") < .string("a"))
        #expect(Value.string("a") < .string("ab"))
        #expect(Value.string("a") < .string("a\0"))
        #expect(Value.string("z") < .string("é"))
        // U+FFFF sorts before U+1F600 in UTF-8 (EF… < F0…), the reverse of UTF-16 order.
        #expect(Value.string("\u{FFFF}") < .string("😀"))
    }

    @Test func canonicallyEquivalentStringsAreDistinct() {
        // Swift's String `==` treats these as equal; Convex compares bytes, and so must indexes.
        let precomposed = Value.string("\u{E9}")
        let decomposed = Value.string("e\u{301}")
        #expect(precomposed != decomposed)
        #expect(Value.compare(decomposed, precomposed) == -1)
        #expect(Value.compare(precomposed, decomposed) == 1)
        #expect(Value.object(["\u{E9}": 1]) != .object(["e\u{301}": 1]))
    }

    @Test func bytesArraysAndObjects() {
        #expect(Value.bytes([0x00]) < .bytes([0x00, 0x00]))
        #expect(Value.bytes([0x7F]) < .bytes([0xFF]))
        #expect(Value.array([1]) < .array([1, 1]))
        #expect(Value.array([1, 2]) < .array([2]))
        #expect(Value.array([.null]) < .array([.boolean(false)]))
        // Objects compare as key-sorted (key, value) lists.
        #expect(Value.object(["a": 1]) < .object(["a": 2]))
        #expect(Value.object(["a": 9]) < .object(["b": 1]))
        #expect(Value.object(["a": 1]) < .object(["a": 1, "b": 1]))
        #expect(Value.object(["b": 1, "a": 2]) == .object(["a": 2, "b": 1]))
    }

    @Test func equalValuesHashEqually() {
        var rng = RandomValues(seed: 7)
        for _ in 0..<500 {
            let a = rng.value()
            let b = rng.neighbor(of: a)
            if a == b { #expect(a.hashValue == b.hashValue, "\(a)") }
            #expect(Value.compare(a, b) == -Value.compare(b, a))
        }
        let set: Set<Value> = [.float64(.nan), .float64(.nan), .float64(0), .float64(-0.0), .object(["a": 1, "b": 2]), .object(["b": 2, "a": 1])]
        #expect(set.count == 4)
    }

    @Test func descriptionReadsLikeJavaScript() {
        #expect(Value.float64(5).description == "5")
        #expect(Value.float64(-0.0).description == "-0")
        #expect(Value.float64(1.5).description == "1.5")
        #expect(Value.float64(.nan).description == "NaN")
        #expect(Value.float64(-.infinity).description == "-Infinity")
        #expect(Value.int64(3).description == "3n")
        #expect(Value.bytes([1, 2]).description == "ArrayBuffer(2)")
        #expect(Value.object(["b": "x", "a": [1, .null]]).description == "{ a: [1, null], b: \"x\" }")
        #expect(Value.object([:]).description == "{}")
    }

    @Test func accessors() {
        let v: Value = ["name": "x", "n": 2, "big": .int64(3), "ok": true, "list": [1], "none": .null]
        #expect(v["name"]?.stringValue == "x")
        #expect(v["n"]?.doubleValue == 2)
        #expect(v["big"]?.doubleValue == 3)
        #expect(v["big"]?.int64Value == 3)
        #expect(v["n"]?.int64Value == nil)
        #expect(v["ok"]?.boolValue == true)
        #expect(v["list"]?.arrayValue == [1])
        #expect(v["none"]?.isNull == true)
        #expect(v["missing"] == nil)
        #expect(v.objectValue?.count == 6)
        #expect(Value.string("x")["a"] == nil)
        #expect(Value.int64(1).typeName == "bigint")
        #expect(Value.float64(1).typeName == "number")
    }
}
