import Testing

@testable import RippleValues

@Suite struct SchemaTests {
    static let messages = TableDefinition("messages", ["body": v.string(), "channelId": v.id("channels"), "ts": v.number()])
        .index("by_channel", ["channelId", "ts"])
        .index("by_author", ["author.name"])

    static func checkError(_ tables: [TableDefinition]) -> String? {
        do {
            try Schema(tables).check()
            return nil
        } catch {
            return error.message
        }
    }

    @Test func validSchema() throws {
        let schema = Schema([Self.messages, TableDefinition("channels", nil), TableDefinition("users_2", [:])])
        try schema.check()
        #expect(schema.table(named: "messages")?.indexes.map(\.name) == ["by_channel", "by_author"])
        #expect(schema.table(named: "messages")?.indexes.first?.fields == ["channelId", "ts"])
        #expect(schema.table(named: "nope") == nil)
        #expect(schema.table(named: "channels")?.documentValidator == .any)
        #expect(schema.table(named: "users_2")?.documentValidator == .object([:]))
        try Schema([]).check()
    }

    @Test func documentValidatorChecksFields() {
        let validator = Self.messages.documentValidator
        let channel = DocumentID(tableNumber: 7, documentNumber: 1, random: 1).string
        let tables: TableNumberLookup = { $0 == "channels" ? 7 : nil }
        #expect((try? validator.validate(["body": "hi", "channelId": .string(channel), "ts": 1], tables: tables)) != nil)
        #expect((try? validator.validate(["body": "hi", "ts": 1], tables: tables)) == nil)
    }

    @Test func implicitIndexes() {
        #expect(IndexDefinition.byCreationTime.fields.isEmpty)
        #expect(IndexDefinition.byID.fields == ["_id"])
    }

    @Test(arguments: [
        ([TableDefinition("_users", nil)], "Table name \"_users\" starts with `_`, which is reserved"),
        ([TableDefinition("1users", nil)], "Invalid table name \"1users\""),
        ([TableDefinition("my-table", nil)], "Invalid table name \"my-table\""),
        ([TableDefinition("", nil)], "Invalid table name \"\""),
        ([TableDefinition("a", nil), TableDefinition("a", [:])], "Table \"a\" is defined twice"),
        ([TableDefinition("a", nil).index("i", ["x"]).index("i", ["y"])], "Index \"i\" is defined twice on table \"a\""),
        ([TableDefinition("a", nil).index("by_id", ["x"])], "Index name \"by_id\" on table \"a\" is reserved"),
        ([TableDefinition("a", nil).index("by_creation_time", ["x"])], "Index name \"by_creation_time\" on table \"a\" is reserved"),
        ([TableDefinition("a", nil).index("_i", ["x"])], "Index name \"_i\" on table \"a\" is reserved"),
        ([TableDefinition("a", nil).index("i", [])], "Index \"i\" on table \"a\" has no fields"),
        ([TableDefinition("a", nil).index("i", ["x", "x"])], "Index \"i\" on table \"a\" names a field twice"),
        ([TableDefinition("a", nil).index("i", ["x", "_creationTime"])], "names _creationTime, which every index ends with already"),
        ([TableDefinition("a", nil).index("i", ["_id"])], "names _id, which every index ends with already"),
    ])
    func rejectsBadSchemas(tables: [TableDefinition], message: String) {
        let error = Self.checkError(tables)
        #expect(error?.contains(message) == true, "\(error ?? "no error")")
    }
}
