/// Tables declared from the Swift types of their documents, so that the schema and the structs
/// functions read and write cannot disagree: a field added to the struct is in the schema, or the
/// node refuses to start naming both.
extension TableDefinition {
    /// The table of `Record`s: named `Record.tableName`, its fields' validators derived from the
    /// type (`ID<Channel>` → `v.id("channels")`, `String?` → `v.optional(v.string())`, …).
    /// Declaring does not throw; a type that cannot be a document stops the node at start-up
    /// (`Schema.check()`).
    public init<Record: NamedTable & Decodable>(_ type: Record.Type) {
        do {
            self.init(Record.tableName, try Validator.derivedFields(of: type))
        } catch {
            self.init(Record.tableName, nil)
            problem = "Table \"\(Record.tableName)\": \(error.message)"
        }
        documentType = "\(Record.self)"
    }

    /// The table of `Record`s with its validators written out (for what a Swift type cannot say,
    /// such as a union). At start-up every field of `Record` must be declared with the validator
    /// its type derives (any validator for a `Value` field), and every required field declared
    /// must be a field of `Record`.
    public init<Record: NamedTable & Decodable>(_ type: Record.Type, _ fields: [String: Validator]) {
        self.init(Record.tableName, fields)
        documentType = "\(Record.self)"
        do {
            problem = Self.disagreement(Record.self, derived: try Validator.derivedFields(of: type), declared: fields)
        } catch {
            problem = "Table \"\(Record.tableName)\": \(error.message)"
        }
    }

    /// The first difference between a type's fields and a table's declaration, worded for the
    /// app's author; `nil` when they agree.
    static func disagreement<Record: NamedTable>(
        _ type: Record.Type, derived: [String: Validator], declared: [String: Validator]
    ) -> String? {
        let table = "table \"\(Record.tableName)\""
        for name in derived.keys.sorted(by: utf8Less) {
            let fromType = derived[name]!
            guard let fromSchema = declared[name] else {
                return "Field \"\(name)\" of \(Record.self) is missing from the schema of \(table) (add \"\(name)\": \(fromType))"
            }
            guard fromType != fromSchema, fromType.unwrappingOptional != .any else { continue }
            return "Field \"\(name)\" of \(Record.self) is \(fromType), but \(table) declares \(fromSchema)"
        }
        for name in declared.keys.sorted(by: utf8Less) where derived[name] == nil {
            if case .optional = declared[name]! { continue }
            return "The schema of \(table) requires field \"\(name)\", which \(Record.self) does not have"
        }
        return nil
    }
}

extension Validator {
    /// The validator inside `v.optional(…)`, or this one.
    var unwrappingOptional: Validator {
        if case .optional(let inner) = self { return inner }
        return self
    }
}
