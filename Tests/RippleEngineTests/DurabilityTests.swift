import Foundation
import RippleEngine
import RippleLog
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

@Suite struct DurabilityTests {
    @Test func timestampsKeepIncreasingAcrossARestartWithTheClockSetBack() async throws {
        let dir = TemporaryDirectory()
        var before = CommitTimestamp.zero
        do {
            let engine = try openItemsEngine(dir)
            before = try await engine.mutation("items:insert", ["group": "t", "n": 1]).ts
            engine.close()
        }
        var options = EngineOptions()
        let past = before.subtracting(.seconds(3_600))  // an hour earlier
        options.clock = { past }
        let engine = try openItemsEngine(dir, options: options)
        defer { engine.close() }
        let first = try await engine.mutation("items:insert", ["group": "t", "n": 2]).ts
        let second = try await engine.mutation("items:insert", ["group": "t", "n": 3]).ts
        #expect(first > before)
        #expect(second > first)
        let query = try await engine.query("items:byGroup", ["group": "t"])
        #expect(query.value.documents.count == 3)
        #expect(query.ts == second)
    }

    @Test func dataSurvivesReopen() async throws {
        let dir = TemporaryDirectory()
        var id = Value.null
        do {
            let engine = try openItemsEngine(dir)
            id = try await engine.mutation("items:insert", ["group": "r", "n": 1]).value
            engine.close()
        }
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        #expect(try await engine.query("items:get", ["id": id]).value["group"] == "r")
        // New ids continue after the old ones instead of colliding.
        let next = try await engine.mutation("items:insert", ["group": "r", "n": 2]).value
        #expect(next != id)
        #expect(try await engine.query("items:byGroup", ["group": "r"]).value.documents.count == 2)
    }

    @Test func newIndexOnExistingDataIsBackfilledBeforeUse() async throws {
        let dir = TemporaryDirectory()
        do {
            let engine = try openItemsEngine(dir)
            _ = try await engine.mutation("items:insertMany", ["group": "b", "from": 0, "count": 5_000])
            engine.close()
        }
        var schema = itemsSchema
        schema.tables[0] = schema.tables[0].index("by_tag_n", ["tag", "n"])
        var functions = itemsFunctions()
        functions.query("items:byMissingTag", args: ["below": v.number()]) { ctx, args in
            let below = try args.double("below")
            // Documents without `tag` index it as undefined, which sorts before everything.
            return try ctx.db.query("items").withIndex("by_tag_n").take(Int(below))
        }
        let engine = try Engine.open(path: dir.database, app: App(schema: schema, functions: functions))
        defer { engine.close() }
        let rows = try await engine.query("items:byMissingTag", ["below": 100]).value.documents
        #expect(rows.count == 100)
        #expect(rows.map { $0["n"]!.doubleValue! } == (0..<100).map(Double.init))
        // Writes after the backfill maintain the new index too.
        _ = try await engine.mutation("items:insert", ["group": "b", "n": -5])
        #expect(try await engine.query("items:byMissingTag", ["below": 1]).value.documents.first?["n"] == -5)
    }

    @Test func droppedIndexIsGone() async throws {
        let dir = TemporaryDirectory()
        do {
            let engine = try openItemsEngine(dir)
            _ = try await engine.mutation("items:insert", ["group": "x", "n": 1])
            engine.close()
        }
        var schema = itemsSchema
        schema.tables[0].indexes.removeAll { $0.name == "by_n" }
        let engine = try Engine.open(path: dir.database, app: App(schema: schema, functions: itemsFunctions()))
        defer { engine.close() }
        await #expect { try await engine.query("items:takeByN", ["count": 1]) } throws: { "\($0)".contains("not found") }
        #expect(try await engine.query("items:byGroup", ["group": "x"]).value.documents.count == 1)
    }
}
