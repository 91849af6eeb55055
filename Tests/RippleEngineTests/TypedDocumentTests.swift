import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

/// Codable records and typed ids through real mutations and queries.
@Suite struct TypedDocumentTests {
    struct Item: TableDocument, Equatable {
        static let tableName = "items"
        var group: String
        var n: Double
        var tag: String?
    }

    struct Note: TableDocument, Equatable {
        static let tableName = "notes"
        var text: String
        var itemId: ID<Item>?
    }

    @Test func typedInsertGetAndReferences() async throws {
        var functions = itemsFunctions()
        functions.mutation("typed:create") { ctx, _ in
            let item = try ctx.db.insert(Item(group: "typed", n: 3, tag: nil))
            let note = try ctx.db.insert(Note(text: "about it", itemId: item))
            guard let stored = try ctx.db.get(note), let itemId = stored.itemId, let back = try ctx.db.get(itemId) else {
                throw UserError("typed read-back failed")
            }
            return ["item": back.convexValue, "note": stored.convexValue]
        }
        functions.mutation("typed:badArgs", args: ["group": v.string(), "n": v.number()]) { _, args in
            let item = try args.decode(Item.self)
            return item.group
        }
        let dir = TemporaryDirectory()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions))
        defer { engine.close() }
        let value = try await engine.mutation("typed:create").value
        #expect(value["item"]?["group"] == "typed")
        #expect(value["item"]?["tag"] == nil)
        #expect(value["note"]?["itemId"] == value["item"]?["_id"])
        #expect(try await engine.mutation("typed:badArgs", ["group": "g", "n": 1]).value == "g")
        // A typed record that breaks the schema is refused like any other write.
        var strict = itemsFunctions()
        strict.mutation("typed:wrongTable") { ctx, _ in try ctx.db.insert(MistypedItem(group: 1)) }
        let dir2 = TemporaryDirectory()
        let engine2 = try Engine.open(path: dir2.database, app: App(schema: itemsSchema, functions: strict))
        defer { engine2.close() }
        await #expect { try await engine2.mutation("typed:wrongTable") } throws: { "\($0)".contains("does not match the schema") }
    }
}

/// A record that claims the `items` table but does not match its schema.
struct MistypedItem: TableDocument {
    static let tableName = "items"
    var group: Double
}
