/// A description of the values a field or argument accepts: Convex's `v.*` validators.
public indirect enum Validator: Sendable, Equatable, CustomStringConvertible {
    case string
    case float64
    case int64
    case boolean
    case null
    case bytes
    case any
    case id(String)
    case array(Validator)
    case object([String: Validator])
    case record(keys: Validator, values: Validator)
    case union([Validator])
    case literal(Value)
    /// Only meaningful as an object field: the field may be missing.
    case optional(Validator)

    /// Renders the validator as a user would have written it, for error messages.
    public var description: String {
        switch self {
        case .string: "v.string()"
        case .float64: "v.float64()"
        case .int64: "v.int64()"
        case .boolean: "v.boolean()"
        case .null: "v.null()"
        case .bytes: "v.bytes()"
        case .any: "v.any()"
        case .id(let table): "v.id(\"\(table)\")"
        case .array(let element): "v.array(\(element))"
        case .object(let fields) where fields.isEmpty: "v.object({})"
        case .object(let fields):
            "v.object({ " + fields.keys.sorted(by: utf8Less).map { "\($0): \(fields[$0]!)" }.joined(separator: ", ") + " })"
        case .record(let k, let v): "v.record(\(k), \(v))"
        case .union(let members): "v.union(" + members.map(\.description).joined(separator: ", ") + ")"
        case .literal(let value): "v.literal(\(value))"
        case .optional(let inner): "v.optional(\(inner))"
        }
    }
}

/// The `v` namespace, so that Swift schemas read like Convex ones: `["channelId": v.id("channels")]`.
public enum v {
    public static func string() -> Validator { .string }
    public static func number() -> Validator { .float64 }
    public static func float64() -> Validator { .float64 }
    public static func int64() -> Validator { .int64 }
    public static func boolean() -> Validator { .boolean }
    public static func null() -> Validator { .null }
    public static func bytes() -> Validator { .bytes }
    public static func any() -> Validator { .any }
    public static func id(_ table: String) -> Validator { .id(table) }
    public static func array(_ element: Validator) -> Validator { .array(element) }
    public static func object(_ fields: [String: Validator]) -> Validator { .object(fields) }
    public static func record(_ keys: Validator, _ values: Validator) -> Validator { .record(keys: keys, values: values) }
    public static func union(_ members: Validator...) -> Validator { .union(members) }
    public static func literal(_ value: Value) -> Validator { .literal(value) }
    public static func optional(_ inner: Validator) -> Validator { .optional(inner) }
}

/// A value that a validator refused, with where and why, formatted as Convex formats it.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    /// `.channelId`, `.items[3].name`; empty for the value itself.
    public let path: String
    public let message: String

    public var description: String { message }
}

/// Finds the table number behind `v.id("table")`; the schema supplies it.
public typealias TableNumberLookup = @Sendable (String) -> UInt32?

extension Validator {
    /// Checks `value`; `tables` resolves `v.id` table names to the numbers ids encode.
    public func validate(_ value: Value, tables: TableNumberLookup) throws(ValidationFailure) {
        // Most values are valid: decide that without building paths or sorting keys, and walk
        // again the slow way only to describe a failure.
        if accepts(value, tables: tables) { return }
        try check(value, path: "", tables: tables)
    }

    /// Whether `check` would accept a present value; the allocation-free twin of `check` and
    /// `matches`, which must agree with them exactly.
    func accepts(_ value: Value, tables: TableNumberLookup) -> Bool {
        switch (self, value) {
        case (.optional(let inner), _): return inner.accepts(value, tables: tables)
        case (.any, _): return true
        case (.string, .string), (.float64, .float64), (.int64, .int64), (.boolean, .boolean),
            (.null, .null), (.bytes, .bytes):
            return true
        case (.id(let table), .string(let s)):
            guard let id = DocumentID(s), let expected = tables(table) else { return false }
            return id.tableNumber == expected
        case (.array(let element), .array(let items)):
            return items.allSatisfy { element.accepts($0, tables: tables) }
        case (.object(let fields), .object(let object)):
            var present = 0
            for (key, fieldValidator) in fields {
                if let fieldValue = object[key] {
                    guard fieldValidator.accepts(fieldValue, tables: tables) else { return false }
                    present += 1
                } else if case .optional = fieldValidator {
                    continue
                } else {
                    return false
                }
            }
            // Every object key counted above is a validator key, so equal counts mean no extra field.
            return present == object.count
        case (.record(let keys, let values), .object(let object)):
            return object.allSatisfy { keys.accepts(.string($0.key), tables: tables) && values.accepts($0.value, tables: tables) }
        case (.union(let members), _):
            return members.contains { $0.accepts(value, tables: tables) }
        case (.literal(let expected), _):
            return expected == value
        default:
            return false
        }
    }

    /// Checks a value that may be missing (`nil`), as an object field or a function's args.
    func check(_ value: Value?, path: String, tables: TableNumberLookup) throws(ValidationFailure) {
        if case .optional(let inner) = self {
            guard let value else { return }
            return try inner.check(value, path: path, tables: tables)
        }
        guard let value else {
            throw ValidationFailure(path: path, message: "Value is missing. Path: \(path)\nValidator: \(self)")
        }
        if try matches(value, path: path, tables: tables) { return }
        throw mismatch(value, path: path)
    }

    func mismatch(_ value: Value, path: String) -> ValidationFailure {
        ValidationFailure(
            path: path,
            message: "Value does not match validator.\nPath: \(path.isEmpty ? "." : path)\nValue: \(value)\nValidator: \(self)"
        )
    }

    /// `true` if `value` matches; throws for failures inside nested structures so that the
    /// error names the deepest bad path.
    func matches(_ value: Value, path: String, tables: TableNumberLookup) throws(ValidationFailure) -> Bool {
        switch (self, value) {
        case (.any, _): return true
        case (.string, .string), (.float64, .float64), (.int64, .int64), (.boolean, .boolean),
            (.null, .null), (.bytes, .bytes):
            return true
        case (.id(let table), .string(let s)):
            guard let id = DocumentID(s), let expected = tables(table) else { return false }
            return id.tableNumber == expected
        case (.array(let element), .array(let items)):
            for (i, item) in items.enumerated() { try element.check(item, path: "\(path)[\(i)]", tables: tables) }
            return true
        case (.object(let fields), .object(let object)):
            for key in fields.keys.sorted(by: utf8Less) {
                let fieldValidator = fields[key]!
                if object[key] == nil, case .optional = fieldValidator { continue }
                if object[key] == nil {
                    throw ValidationFailure(
                        path: path,
                        message: "Object is missing the required field `\(key)`. Consider wrapping the field validator in "
                            + "`v.optional(...)` if this is expected.\n\nPath: \(path.isEmpty ? "." : path)\nObject: \(value)\nValidator: \(self)"
                    )
                }
                try fieldValidator.check(object[key], path: "\(path).\(key)", tables: tables)
            }
            for key in object.keys.sorted(by: utf8Less) where fields[key] == nil {
                throw ValidationFailure(
                    path: path,
                    message: "Object contains extra field `\(key)` that is not in the validator.\n\n"
                        + "Path: \(path.isEmpty ? "." : path)\nObject: \(value)\nValidator: \(self)"
                )
            }
            return true
        case (.record(let keys, let values), .object(let object)):
            for key in object.keys.sorted(by: utf8Less) {
                try keys.check(.string(key), path: "\(path).\(key) (key)", tables: tables)
                try values.check(object[key], path: "\(path).\(key)", tables: tables)
            }
            return true
        case (.union(let members), _):
            for member in members where (try? member.check(value, path: path, tables: tables)) != nil { return true }
            return false
        case (.literal(let expected), _):
            return expected == value
        case (.optional(let inner), _):
            return try inner.matches(value, path: path, tables: tables)
        default:
            return false
        }
    }
}
