import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

/// `withIndex` ranges against a brute-force sort of the same 10,000+ documents.
@Suite struct IndexRangeTests {
    /// A query per range shape; `args`: group, op, value, order, take.
    static func functions() -> FunctionRegistry {
        var f = itemsFunctions()
        f.query("items:range", args: ["group": v.string(), "lower": v.any(), "upper": v.any(), "order": v.string(), "take": v.number(), "mode": v.string()]) {
            ctx, args in
            let group = try args.string("group")
            let lower = args["lower"]!
            let upper = args["upper"]!
            let query = try ctx.db.query("items").withIndex("by_group_n") { q in
                var q = q.eq("group", group)
                if let op = lower["op"]?.stringValue, let value = lower["value"] {
                    q = op == "gt" ? q.gt("n", value) : q.gte("n", value)
                }
                if let op = upper["op"]?.stringValue, let value = upper["value"] {
                    q = op == "lt" ? q.lt("n", value) : q.lte("n", value)
                }
                return q
            }.order(try args.string("order") == "desc" ? .desc : .asc)
            switch try args.string("mode") {
            case "first": return try query.first().convexValue
            case "unique": return try query.unique().convexValue
            case "collect": return try query.collect().convexValue
            default: return try query.take(Int(try args.double("take"))).convexValue
            }
        }
        return f
    }

    @Test func rangesMatchBruteForce() async throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: Self.functions()))
        defer { engine.close() }
        // 10,200 documents in 3 groups; n has duplicates so ties order by creation.
        var rng = SeededRandom(seed: 7)
        var all: [(group: String, n: Double, id: String, creation: Double)] = []
        for batch in 0..<51 {
            var items: [(String, Double)] = []
            for _ in 0..<200 { items.append((["a", "b", "c"][Int(rng.next() % 3)], Double(rng.next() % 500))) }
            let ids = try await withThrowingTaskGroup(of: (Int, String, Double).self) { group in
                for (i, item) in items.enumerated() {
                    group.addTask {
                        let r = try await engine.mutation("items:insert", ["group": .string(item.0), "n": .float64(item.1)])
                        return (i, r.value.stringValue!, r.ts.milliseconds)
                    }
                }
                return try await group.reduce(into: [(Int, String, Double)]()) { $0.append($1) }
            }
            for (i, id, creation) in ids { all.append((items[i].0, items[i].1, id, creation)) }
            _ = batch
        }
        #expect(all.count == 10_200)

        func expected(_ group: String, lower: (String, Double)?, upper: (String, Double)?, desc: Bool) -> [String] {
            var rows = all.filter { $0.group == group }
            if let (op, x) = lower { rows = rows.filter { op == "gt" ? $0.n > x : $0.n >= x } }
            if let (op, x) = upper { rows = rows.filter { op == "lt" ? $0.n < x : $0.n <= x } }
            rows.sort { ($0.n, $0.creation, $0.id) < ($1.n, $1.creation, $1.id) }
            return (desc ? rows.reversed() : rows).map(\.id)
        }
        let shapes: [((String, Double)?, (String, Double)?)] = [
            (nil, nil), (("gt", 250), nil), (("gte", 250), nil), (nil, ("lt", 100)), (nil, ("lte", 100)),
            (("gt", 10), ("lt", 20)), (("gte", 10), ("lte", 20)), (("gt", 499), nil), (("gte", 30), ("lt", 30)),
        ]
        for (lower, upper) in shapes {
            for desc in [false, true] {
                for take in [1, 7, 100, 5000] {
                    let want = expected("b", lower: lower, upper: upper, desc: desc)
                    let args: [String: Value] = [
                        "group": "b",
                        "lower": lower.map { ["op": .string($0.0), "value": .float64($0.1)] } ?? [:],
                        "upper": upper.map { ["op": .string($0.0), "value": .float64($0.1)] } ?? [:],
                        "order": desc ? "desc" : "asc", "take": .float64(Double(take)), "mode": "take",
                    ]
                    let got = try await engine.query("items:range", args).value.documents.map { $0["_id"]!.stringValue! }
                    #expect(got == Array(want.prefix(take)), "lower \(String(describing: lower)) upper \(String(describing: upper)) desc \(desc) take \(take)")
                    if take == 1 {
                        var firstArgs = args
                        firstArgs["mode"] = "first"
                        let first = try await engine.query("items:range", firstArgs).value
                        #expect(first["_id"]?.stringValue == want.first)
                    }
                }
            }
        }
        // collect over a whole group equals the brute-force order.
        let collected = try await engine.query("items:range", ["group": "a", "lower": [:], "upper": [:], "order": "asc", "take": 0, "mode": "collect"])
        #expect(collected.value.documents.map { $0["_id"]!.stringValue! } == expected("a", lower: nil, upper: nil, desc: false))
    }

    @Test func uniqueFailsOnMoreThanOne() async throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: Self.functions()))
        defer { engine.close() }
        _ = try await engine.mutation("items:insert", ["group": "u", "n": 1])
        _ = try await engine.mutation("items:insert", ["group": "u", "n": 2])
        func unique(_ value: Double) async throws -> Value {
            try await engine.query("items:range", [
                "group": "u", "lower": ["op": "gte", "value": .float64(value)], "upper": [:], "order": "asc", "take": 0, "mode": "unique",
            ]).value
        }
        #expect(try await unique(2)["n"] == 2)
        #expect(try await unique(3) == .null)
        await #expect { try await unique(1) } throws: { "\($0)".contains("unique() query returned more than one result") }
    }

    @Test func misusedRangesGiveClearErrors() async throws {
        var f = itemsFunctions()
        f.query("bad:skip") { ctx, _ in try ctx.db.query("items").withIndex("by_group_n") { $0.eq("n", 1) }.collect() }
        f.query("bad:index") { ctx, _ in try ctx.db.query("items").withIndex("by_nothing").collect() }
        f.query("bad:table") { ctx, _ in try ctx.db.query("nope").collect() }
        let dir = TemporaryDirectory()
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: f))
        defer { engine.close() }
        await #expect { try await engine.query("bad:skip") } throws: { "\($0)".contains("didn't use the index fields in order") }
        await #expect { try await engine.query("bad:index") } throws: { "\($0)".contains("Index items.by_nothing not found") }
        await #expect { try await engine.query("bad:table") } throws: { "\($0)".contains("Table \"nope\" does not exist") }
    }
}
