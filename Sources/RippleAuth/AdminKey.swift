/// The configured admin key, compared in constant time so response timing tells nothing about how
/// much of a guess was right.
struct AdminKey: Sendable {
    private let bytes: [UInt8]

    /// `nil` for a missing or empty key: then no candidate ever matches.
    init?(_ key: String?) {
        guard let key, !key.isEmpty else { return nil }
        self.bytes = Array(key.utf8)
    }

    /// Whether `candidate` is the key. Time depends only on the two lengths, never on the content;
    /// a length mismatch does not return early either.
    func matches(_ candidate: String) -> Bool {
        let other = Array(candidate.utf8)
        var difference = UInt64(bytes.count ^ other.count)
        for i in 0..<max(bytes.count, other.count) {
            let a = i < bytes.count ? bytes[i] : 0
            let b = i < other.count ? other[i] : 0
            difference |= UInt64(a ^ b)
        }
        return difference == 0
    }
}
