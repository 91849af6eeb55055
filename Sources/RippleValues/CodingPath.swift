/// The coding keys `ValueEncoder` and `ValueDecoder` make up themselves: array positions and
/// field names met only at run time (dictionary keys, `Value` fields).
struct ValueCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?
    /// Set for array positions, so that paths print them as `[2]` and never as a field `.2`.
    let isIndex: Bool

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
        self.isIndex = false
    }

    init(intValue: Int) { self.init(index: intValue) }

    init(index: Int) {
        self.stringValue = String(index)
        self.intValue = index
        self.isIndex = true
    }

    static let superKey = ValueCodingKey(stringValue: "super")
}

/// Renders a coding path as Convex error messages write paths: `.items[2].name`, `.` for the root.
func convexPath(_ codingPath: [any CodingKey]) -> String {
    if codingPath.isEmpty { return "." }
    var out = ""
    for key in codingPath {
        if let key = key as? ValueCodingKey, key.isIndex {
            out += "[\(key.stringValue)]"
        } else {
            out += "." + key.stringValue
        }
    }
    return out
}
