/// A value that breaks a rule of the value model: a bad field name, a limit, bad encoding.
public struct ValueError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Rules for object field names (Convex's): nested fields are non-empty printable ASCII up to
/// 1,024 characters and do not start with `$`; top-level document fields are identifiers, and
/// those starting with `_` are reserved for system fields.
public enum FieldName {
    public static let maxLength = 1024
    public static let maxTopLevelLength = 64

    public static func validate(_ name: String, path: String) throws(ValueError) {
        let at = path.isEmpty ? "." : path
        if name.isEmpty { throw ValueError("Empty field name in object at path \(at)") }
        if name.utf8.count > maxLength { throw ValueError("Field name at path \(at) is longer than \(maxLength) characters") }
        if name.hasPrefix("$") { throw ValueError("Field name `\(name)` at path \(at) starts with `$`, which is reserved") }
        for b in name.utf8 where b < 0x20 || b >= 0x7F {
            throw ValueError("Field name `\(name)` at path \(at) must contain only printable ASCII characters")
        }
    }

    /// Checks a top-level field of a user document being written.
    public static func validateTopLevel(_ name: String) throws(ValueError) {
        if name.hasPrefix("_") {
            throw ValueError("Field name `\(name)` starts with `_`, which is reserved for system fields")
        }
        try validateIdentifier(name)
    }

    static func validateIdentifier(_ name: String) throws(ValueError) {
        let bytes = name.utf8
        guard let first = bytes.first, bytes.count <= maxTopLevelLength else {
            throw ValueError("Field name `\(name)` must be 1 to \(maxTopLevelLength) characters")
        }
        func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        guard isLetter(first) || first == UInt8(ascii: "_"),
            bytes.allSatisfy({ isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") })
        else {
            throw ValueError("Field name `\(name)` must be an identifier (letters, digits, `_`; not starting with a digit)")
        }
    }
}

/// Per-document limits (Convex's defaults), checked on every write.
public struct DocumentLimits: Sendable {
    /// Size of the whole document, as `Value.approximateSize` counts it.
    public var maxSizeBytes = 1 << 20
    /// Fields of each object in the document (not summed over the document).
    public var maxFields = 1024
    /// Levels of objects and arrays, the document itself being level 1.
    public var maxNesting = 16
    /// Elements of each array.
    public var maxArrayElements = 8192

    public init() {}

    /// Checks `value` (a whole document) against the limits; the error names the limit.
    public func check(_ value: Value, table: String) throws(ValueError) {
        let shape = ValueShape(maxNesting: maxNesting, maxFields: maxFields, maxArrayElements: maxArrayElements)
        let size = try shape.measure(value) { violation throws(ValueError) in
            switch violation {
            case .nesting:
                throw ValueError("Document in table \"\(table)\" is nested too deeply (limit \(maxNesting) levels)")
            case .elements(let count):
                throw ValueError("Array in a document of table \"\(table)\" has too many elements (\(count), limit \(maxArrayElements))")
            case .fields(let count, let topLevel):
                let which = topLevel ? "Document in table \"\(table)\"" : "Object in a document of table \"\(table)\""
                throw ValueError("\(which) has too many fields (\(count), limit \(maxFields))")
            }
        }
        if size > maxSizeBytes {
            throw ValueError("Document in table \"\(table)\" is too large (\(size) bytes, limit \(maxSizeBytes) bytes)")
        }
    }
}

/// Convex's limits on the values a client sends as a function's arguments, checked before the
/// function runs: without them one request could make the node walk, hold and re-send a value of
/// any shape (a subscription keeps its arguments for as long as it lives).
public struct ArgumentLimits: Sendable {
    /// Levels of objects and arrays, the arguments object being level 1.
    public var maxNesting = 64
    /// Fields of each object.
    public var maxFields = 1024
    /// Elements of each array.
    public var maxArrayElements = 8192

    public init() {}

    /// Checks the arguments of `function`; the error names the function and the limit.
    public func check(_ args: [String: Value], function: String) throws(ValueError) {
        let shape = ValueShape(maxNesting: maxNesting, maxFields: maxFields, maxArrayElements: maxArrayElements)
        _ = try shape.measure(.object(args)) { violation throws(ValueError) in
            switch violation {
            case .nesting:
                throw ValueError("Arguments of \(function) are nested too deeply (limit \(maxNesting) levels)")
            case .elements(let count):
                throw ValueError("An array in the arguments of \(function) has too many elements (\(count), limit \(maxArrayElements))")
            case .fields(let count, _):
                throw ValueError("An object in the arguments of \(function) has too many fields (\(count), limit \(maxFields))")
            }
        }
    }
}

/// The shape rules documents and arguments share: nesting, fields per object, elements per array.
struct ValueShape {
    let maxNesting: Int
    let maxFields: Int
    let maxArrayElements: Int

    enum Violation {
        case nesting
        case elements(Int)
        case fields(Int, topLevel: Bool)
    }

    /// Walks `value`, calling `refuse` (which throws) at the first broken rule; returns the size as
    /// `Value.approximateSize` counts it.
    func measure(_ value: Value, refuse: (Violation) throws(ValueError) -> Never) throws(ValueError) -> Int {
        try walk(value, depth: 0, refuse: refuse)
    }

    private func walk(_ value: Value, depth: Int, refuse: (Violation) throws(ValueError) -> Never) throws(ValueError) -> Int {
        switch value {
        case .array(let items):
            if depth + 1 > maxNesting { try refuse(.nesting) }
            if items.count > maxArrayElements { try refuse(.elements(items.count)) }
            var size = 2
            for item in items { size += try walk(item, depth: depth + 1, refuse: refuse) }
            return size
        case .object(let fields):
            if depth + 1 > maxNesting { try refuse(.nesting) }
            // Per object, as Convex's `MAX_OBJECT_FIELDS`, not summed over the value.
            if fields.count > maxFields { try refuse(.fields(fields.count, topLevel: depth == 0)) }
            var size = 2
            for (name, field) in fields { size += name.utf8.count + 1 + (try walk(field, depth: depth + 1, refuse: refuse)) }
            return size
        default:
            return value.approximateSize
        }
    }
}

extension Value {
    /// Size in bytes as counted against read/write limits (close to the stored encoding).
    public var approximateSize: Int {
        switch self {
        case .null: 1
        case .int64, .float64: 9
        case .boolean: 1
        case .string(let s): s.utf8.count + 2
        case .bytes(let b): b.count + 2
        case .array(let a): a.reduce(2) { $0 + $1.approximateSize }
        case .object(let o): o.reduce(2) { $0 + $1.key.utf8.count + 1 + $1.value.approximateSize }
        }
    }
}
