import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Synchronization

/// The schema most engine tests use: items in groups with a number, and notes.
let itemsSchema = Schema([
    TableDefinition("items", ["group": v.string(), "n": v.number(), "tag": v.optional(v.string())])
        .index("by_group_n", ["group", "n"])
        .index("by_n", ["n"]),
    TableDefinition("notes", ["text": v.string(), "itemId": v.optional(v.id("items"))]),
])

/// Generic functions over `itemsSchema`, so tests drive the engine through its public API.
func itemsFunctions() -> FunctionRegistry {
    var f = FunctionRegistry()
    f.mutation("items:insert", args: ["group": v.string(), "n": v.number(), "tag": v.optional(v.string())]) { ctx, args in
        try ctx.db.insert("items", args.fields)
    }
    f.mutation("items:insertMany", args: ["group": v.string(), "from": v.number(), "count": v.number()]) { ctx, args in
        let from = Int(try args.double("from"))
        for n in from..<(from + Int(try args.double("count"))) {
            try ctx.db.insert("items", ["group": .string(try args.string("group")), "n": .float64(Double(n))])
        }
        return Value.null
    }
    f.mutation("items:patch", args: ["id": v.id("items"), "fields": v.any()]) { ctx, args in
        let fields = args["fields"]!.objectValue!.mapValues { $0.isNull ? nil : Optional($0) }
        try ctx.db.patch(try args.string("id"), fields)
        return Value.null
    }
    f.mutation("items:replace", args: ["id": v.id("items"), "fields": v.any()]) { ctx, args in
        try ctx.db.replace(try args.string("id"), args["fields"]!.objectValue!)
        return Value.null
    }
    f.mutation("items:delete", args: ["id": v.id("items")]) { ctx, args in
        try ctx.db.delete(try args.string("id"))
        return Value.null
    }
    f.mutation("items:insertThenFail", args: ["group": v.string()]) { ctx, args -> Value in
        try ctx.db.insert("items", ["group": .string(try args.string("group")), "n": 1])
        throw ConvexError(["code": "boom", "count": .int64(7)])
    }
    f.mutation("items:insertAndReadBack", args: ["group": v.string()]) { ctx, args in
        let group = try args.string("group")
        let id = try ctx.db.insert("items", ["group": .string(group), "n": 42])
        try ctx.db.patch(id, ["tag": "patched"])
        let viaGet = try ctx.db.get(id)
        let viaIndex = try ctx.db.query("items").withIndex("by_group_n") { $0.eq("group", group) }.collect()
        return Value.object(["get": viaGet?.convexValue ?? .null, "count": .float64(Double(viaIndex.count))])
    }
    f.query("items:get", args: ["id": v.string()]) { ctx, args in try ctx.db.get(try args.string("id")) }
    f.query("items:byGroup", args: ["group": v.string()]) { ctx, args in
        let group = try args.string("group")
        return try ctx.db.query("items").withIndex("by_group_n") { $0.eq("group", group) }.collect()
    }
    f.query("items:firstInGroup", args: ["group": v.string()]) { ctx, args in
        let group = try args.string("group")
        return try ctx.db.query("items").withIndex("by_group_n") { $0.eq("group", group) }.first()
    }
    f.query("items:takeByN", args: ["count": v.number()]) { ctx, args in
        try ctx.db.query("items").withIndex("by_n").take(Int(try args.double("count")))
    }
    f.query("items:page", args: ["group": v.string(), "paginationOpts": v.any()]) { ctx, args in
        let group = try args.string("group")
        return try ctx.db.query("items").withIndex("by_group_n") { $0.eq("group", group) }.paginate(args["paginationOpts"]!)
    }
    f.query("items:all") { ctx, _ in try ctx.db.query("items").collect() }
    f.internalQuery("items:secret") { _, _ in "secret" }
    f.action("items:viaAction", args: ["group": v.string()]) { ctx, args in
        _ = try await ctx.runMutation("items:insert", ["group": args["group"]!, "n": 1])
        return try await ctx.runQuery("items:secret")
    }
    return f
}

func openItemsEngine(_ dir: TemporaryDirectory, options: EngineOptions = EngineOptions()) throws -> Engine {
    try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: itemsFunctions()), options: options)
}

extension Value {
    var documents: [[String: Value]] { arrayValue?.compactMap(\.objectValue) ?? [] }
}

/// The mutation `items:holdTheCommitter`, which keeps the committer's thread until released:
/// tests queue mutations behind it to shape the committer's next group.
final class CommitterHold: Sendable {
    private let released = DispatchSemaphore(value: 0)
    private let holding = Mutex(false)

    init(registeringIn functions: inout FunctionRegistry) {
        functions.mutation("items:holdTheCommitter") { [self] _, _ in
            holding.withLock { $0 = true }
            released.wait()
            return Value.null
        }
    }

    /// The committer is inside `items:holdTheCommitter`.
    var isHolding: Bool { holding.withLock { $0 } }

    func release() { released.signal() }
}
