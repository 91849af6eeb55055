import Foundation
import RippleCron
import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

/// The typed function API: references, derived argument validators, typed results, and
/// definitions checked at start-up instead of throwing where they are written.
@Suite struct TypedFunctionTests {
    struct Item: TableDocument, Equatable {
        static let tableName = "items"
        var group: String
        var n: Double
        var tag: String?
    }

    struct InsertArgs: Codable, Sendable {
        var group: String
        var n: Double
        var tag: String?
    }

    struct GroupArgs: Codable, Sendable {
        var group: String
    }

    static let insert = MutationReference<InsertArgs, ID<Item>>("typed:insert")
    static let byGroup = QueryReference<GroupArgs, [Stored<Item>]>("typed:byGroup")
    static let count = ActionReference<GroupArgs, Int>("typed:count")
    static let tick = MutationReference<NoArguments, Nothing>("typed:tick")

    static func functions() -> FunctionRegistry {
        var functions = itemsFunctions()
        functions.mutation(insert) { ctx, args in try ctx.db.insert(Item(group: args.group, n: args.n, tag: args.tag)) }
        functions.query(byGroup) { ctx, args in
            try ctx.db.query(Item.self).withIndex("by_group_n") { $0.eq(\.group, args.group).gt(\.n, 1) }.take(10)
        }
        functions.action(count) { ctx, args in try await ctx.runQuery(byGroup, args).count }
        functions.mutation(tick) { _, _ in Nothing() }
        return functions
    }

    func refusal(_ engine: Engine, _ path: String, _ args: [String: Value]) async -> String? {
        do {
            _ = try await engine.mutation(path, args)
            return nil
        } catch {
            return error.kind == .invalidArguments ? error.message : "wrong kind: \(error)"
        }
    }

    @Test func aWrongArgumentTypeIsRefusedAsWithHandWrittenValidators() async throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: Self.functions()))
        defer { engine.close() }
        // `items:insert` declares the same arguments by hand: the refusals must read the same.
        let bad: [String: Value] = ["group": "g", "n": "three"]
        let typed = await refusal(engine, "typed:insert", bad)
        let untyped = await refusal(engine, "items:insert", bad)
        #expect(typed == untyped?.replacingOccurrences(of: "items:insert", with: "typed:insert"))
        #expect(
            typed == "ArgumentValidationError for typed:insert: Value does not match validator.\nPath: .n\nValue: \"three\"\nValidator: v.float64()")
        #expect(await refusal(engine, "typed:insert", ["group": "g"]) == (await refusal(engine, "items:insert", ["group": "g"]))?
            .replacingOccurrences(of: "items:insert", with: "typed:insert"))
        #expect(await refusal(engine, "typed:insert", ["group": "g", "n": 1, "extra": true]) != nil)
    }

    @Test func typedResultsTravelAsDocuments() async throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: Self.functions()))
        defer { engine.close() }
        let id = try await engine.mutation("typed:insert", ["group": "g", "n": .float64(2), "tag": "t"]).value
        _ = try await engine.mutation("typed:insert", ["group": "g", "n": .float64(1)])
        let untypedRead = try await engine.query("items:byGroup", ["group": "g"]).value
        let typedRead = try await engine.query("typed:byGroup", ["group": "g"]).value
        #expect(typedRead.arrayValue?.count == 1)
        let typedItem = typedRead.arrayValue?.first
        #expect(typedItem?["_id"] == id)
        #expect(typedItem == untypedRead.arrayValue?.first { $0["_id"] == id })
        #expect(try await engine.action("typed:count", ["group": "g"]) == 1)
        #expect(try await engine.mutation("typed:tick").value == .null)
    }

    struct Unprobeable: Decodable, Sendable {
        init(from decoder: any Decoder) throws {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "never"))
        }
    }

    @Test func argumentsWithoutAValidatorStopTheNodeNamingTheFunction() throws {
        struct Args: Codable, Sendable {
            var list: [String]
        }
        var functions = itemsFunctions()
        functions.query(QueryReference<[String], Nothing>("typed:notAnObject")) { _, _ in Nothing() }
        let dir = TemporaryDirectory()
        #expect {
            try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions))
        } throws: {
            ($0 as? FunctionError)?.message
                == "Function typed:notAnObject: its arguments Array<String> must decode from an object, but its validator is v.array(v.string())"
        }
    }

    struct Note: TableDocument {
        static let tableName = "notes"
        var text: String
        var itemId: ID<Item>?
        var pinned: Bool
    }

    @Test func aDocumentFieldMissingFromTheSchemaStopsTheNodeNamingBoth() throws {
        let schema = Schema([
            TableDefinition(Item.self),
            TableDefinition(Note.self, ["text": v.string(), "itemId": v.optional(v.id("items"))]),
        ])
        let dir = TemporaryDirectory()
        #expect {
            try Engine.open(path: dir.database, app: App(schema: schema, functions: FunctionRegistry()))
        } throws: {
            ($0 as? SchemaError)?.message
                == "Field \"pinned\" of Note is missing from the schema of table \"notes\" (add \"pinned\": v.boolean())"
        }
    }

    @Test func aSchemaFieldOfAnotherTypeStopsTheNode() throws {
        let schema = Schema([TableDefinition(Item.self, ["group": v.string(), "n": v.string(), "tag": v.optional(v.string())])])
        #expect { try schema.check() } throws: {
            ($0 as? SchemaError)?.message == "Field \"n\" of Item is v.float64(), but table \"items\" declares v.string()"
        }
    }

    @Test func anIndexOnAFieldTheTypeLacksStopsTheNode() throws {
        let schema = Schema([TableDefinition(Item.self).index("by_size", ["size"])])
        #expect { try schema.check() } throws: {
            ($0 as? SchemaError)?.message == "Index \"by_size\" on table \"items\" names field \"size\", which Item does not have"
        }
    }

    @Test func aTableDeclaredFromItsTypeEqualsTheHandWrittenOne() {
        let typed = TableDefinition(Item.self).index("by_group_n", ["group", "n"]).index("by_n", ["n"])
        #expect(typed.fields == itemsSchema.tables[0].fields)
        #expect(typed.indexes == itemsSchema.tables[0].indexes)
    }

    @Test func aBadCronStopsTheNodeNamingTheCron() throws {
        var crons = Crons()
        crons.daily("nightly", hourUTC: 25, minuteUTC: 0, Self.tick)
        let dir = TemporaryDirectory()
        #expect {
            try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: Self.functions(), crons: crons))
        } throws: {
            ($0 as? CronError)?.message == "Invalid daily schedule for cron job \"nightly\": hourUTC 25 is out of range 0-23"
        }
    }
}
