import RippleTestSupport
import RippleValues

/// Random values from small domains, so that ties, prefixes and shared keys are common.
struct RandomValues {
    var rng: SeededRandom
    /// Only keys that Convex JSON accepts (printable ASCII, no `$`).
    var validFieldNames = false
    var maxDepth = 3

    init(seed: UInt64, validFieldNames: Bool = false) {
        rng = SeededRandom(seed: seed)
        self.validFieldNames = validFieldNames
    }

    static let specialDoubles: [Double] = [
        .nan, -.nan, Double(bitPattern: 0x7FF0_0000_0000_0001), Double(bitPattern: 0xFFF8_0000_0000_0001),
        .infinity, -.infinity, 0.0, -0.0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
        .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1, 0.5, -0.5, 1e300, 0x1p53,
    ]
    static let specialInts: [Int64] = [.min, .min + 1, -256, -1, 0, 1, 255, 256, .max - 1, .max]
    /// Includes NUL, a precomposed and a decomposed "é" (equal as Swift Strings, different bytes),
    /// and characters whose UTF-8 order differs from their UTF-16 order.
    static let stringPieces: [String] = ["a", "b", "\0", "\u{1}", "é", "e\u{301}", "\u{7F}", "\u{FFFF}", "😀", "\u{FF}"]
    static let anyKeys: [String] = ["", "a", "b", "ab", "a\0", "\0", "_id", "é", "e\u{301}", "z"]
    static let validKeys: [String] = ["a", "b", "ab", "_id", "x y", "~", "A", "a0"]
    static let bytePieces: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    mutating func int64() -> Int64 {
        switch int(0...2) {
        case 0: pick(Self.specialInts)
        case 1: Int64(int(-3...3))
        default: Int64(bitPattern: rng.next())
        }
    }

    mutating func double() -> Double {
        switch int(0...3) {
        case 0: pick(Self.specialDoubles)
        case 1: Double(int(-3...3))
        case 2: Double(int(-100...100)) / 8
        default: Double(bitPattern: rng.next())
        }
    }

    mutating func string() -> String {
        var s = ""
        for _ in 0..<int(0...4) { s += pick(Self.stringPieces) }
        return s
    }

    mutating func bytes() -> [UInt8] { (0..<int(0...4)).map { _ in pick(Self.bytePieces) } }

    mutating func key() -> String { pick(validFieldNames ? Self.validKeys : Self.anyKeys) }

    mutating func value(depth: Int = 0) -> Value {
        switch int(0...(depth >= maxDepth ? 5 : 7)) {
        case 0: return .null
        case 1: return .int64(int64())
        case 2: return .float64(double())
        case 3: return .boolean(chance(0.5))
        case 4: return .string(string())
        case 5: return .bytes(bytes())
        case 6: return .array((0..<int(0...3)).map { _ in value(depth: depth + 1) })
        default:
            var object: [String: Value] = [:]
            for _ in 0..<int(0...3) { object[key()] = value(depth: depth + 1) }
            return .object(object)
        }
    }

    /// A value near `v`: equal, extended, shortened or changed in one place, so that comparisons
    /// often have to look deep.
    mutating func neighbor(of v: Value, depth: Int = 0) -> Value {
        if chance(0.25) { return v }
        switch v {
        case .array(var items):
            if !items.isEmpty, chance(0.5) {
                let i = int(0...items.count - 1)
                items[i] = neighbor(of: items[i], depth: depth + 1)
            } else if !items.isEmpty, chance(0.3) {
                items.removeLast()
            } else {
                items.append(value(depth: depth + 1))
            }
            return .array(items)
        case .object(var object):
            if let k = object.keys.sorted().first, chance(0.5) {
                object[k] = neighbor(of: object[k]!, depth: depth + 1)
            } else if !object.isEmpty, chance(0.3) {
                object.removeValue(forKey: object.keys.sorted().last!)
            } else {
                object[key()] = value(depth: depth + 1)
            }
            return .object(object)
        case .string(let s): return .string(chance(0.5) ? s + pick(Self.stringPieces) : string())
        case .bytes(let b): return .bytes(chance(0.5) ? b + [pick(Self.bytePieces)] : bytes())
        case .int64: return .int64(int64())
        case .float64: return .float64(double())
        default: return value(depth: depth)
        }
    }
}
