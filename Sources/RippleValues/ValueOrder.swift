/// Convex's total order across types:
/// `null < int64 < float64 < boolean < string < bytes < array < object`
/// (a missing field, `undefined`, sorts before all of them; see `IndexKey`).
///
/// Floats use IEEE total order (`-NaN < -Inf < … < -0 < +0 < … < +Inf < NaN`), strings and
/// bytes compare byte-wise, arrays element-wise, objects as their key-sorted `(key, value)` lists.
/// `IndexKey` encodes values so that `memcmp` of the encodings agrees with this order.
extension Value: Comparable, Hashable {
    /// The rank of each type in the cross-type order.
    var typeRank: Int {
        switch self {
        case .null: 1
        case .int64: 2
        case .float64: 3
        case .boolean: 4
        case .string: 5
        case .bytes: 6
        case .array: 7
        case .object: 8
        }
    }

    /// -1, 0 or 1 as `a` sorts before, with, or after `b`.
    public static func compare(_ a: Value, _ b: Value) -> Int {
        switch (a, b) {
        case (.null, .null): return 0
        case (.int64(let x), .int64(let y)): return x < y ? -1 : (x == y ? 0 : 1)
        case (.float64(let x), .float64(let y)):
            let kx = totalOrderKey(x)
            let ky = totalOrderKey(y)
            return kx < ky ? -1 : (kx == ky ? 0 : 1)
        case (.boolean(let x), .boolean(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.string(let x), .string(let y)): return compareUTF8(x, y)
        case (.bytes(let x), .bytes(let y)): return compareBytes(x, y)
        case (.array(let x), .array(let y)):
            for (ex, ey) in zip(x, y) {
                let c = compare(ex, ey)
                if c != 0 { return c }
            }
            return x.count < y.count ? -1 : (x.count == y.count ? 0 : 1)
        case (.object(let x), .object(let y)):
            let kx = x.keys.sorted(by: utf8Less)
            let ky = y.keys.sorted(by: utf8Less)
            for (fx, fy) in zip(kx, ky) {
                let k = compareUTF8(fx, fy)
                if k != 0 { return k }
                let c = compare(x[fx]!, y[fy]!)
                if c != 0 { return c }
            }
            return kx.count < ky.count ? -1 : (kx.count == ky.count ? 0 : 1)
        default:
            return a.typeRank < b.typeRank ? -1 : 1
        }
    }

    /// Maps a double's bits to an unsigned integer whose natural order is IEEE total order.
    @inlinable
    public static func totalOrderKey(_ d: Double) -> UInt64 {
        let bits = d.bitPattern
        return bits & (1 << 63) != 0 ? ~bits : bits | (1 << 63)
    }

    public static func < (a: Value, b: Value) -> Bool { compare(a, b) < 0 }
    public static func == (a: Value, b: Value) -> Bool { compare(a, b) == 0 }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .int64(let i): hasher.combine(1); hasher.combine(i)
        case .float64(let d): hasher.combine(2); hasher.combine(d.bitPattern)
        case .boolean(let b): hasher.combine(3); hasher.combine(b)
        case .string(let s): hasher.combine(4); hasher.combine(s)
        case .bytes(let b): hasher.combine(5); hasher.combine(b)
        case .array(let a): hasher.combine(6); hasher.combine(a)
        case .object(let o):
            hasher.combine(7)
            // Order-independent: combine each field's hash commutatively.
            var acc = 0
            for (k, v) in o {
                var h = Hasher()
                h.combine(k)
                h.combine(v)
                acc ^= h.finalize()
            }
            hasher.combine(o.count)
            hasher.combine(acc)
        }
    }
}

/// Byte-wise, not Swift's `==`: that treats canonically equivalent strings ("é", "e\u{301}")
/// as equal, while their index keys differ.
func compareUTF8(_ x: String, _ y: String) -> Int {
    var x = x
    var y = y
    return x.withUTF8 { px in
        y.withUTF8 { py in
            let n = min(px.count, py.count)
            if n > 0 {
                let c = memcmpBytes(px.baseAddress!, py.baseAddress!, n)
                if c != 0 { return c }
            }
            return px.count < py.count ? -1 : (px.count == py.count ? 0 : 1)
        }
    }
}

func compareBytes(_ x: [UInt8], _ y: [UInt8]) -> Int {
    for (bx, by) in zip(x, y) where bx != by {
        return bx < by ? -1 : 1
    }
    return x.count < y.count ? -1 : (x.count == y.count ? 0 : 1)
}
