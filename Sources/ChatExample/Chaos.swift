import Ripple

extension ChatApp {
    /// The chaos suite's workload (Tests/chaos): every mutation carries a unique `writeId` and
    /// records it in `chaosWrites` in its own transaction, so the checker can count how often
    /// each call took effect; transfers move balance between `chaosAccounts` (the total never
    /// changes), increments bump `counters`. Served only with `CHAT_DIAGNOSTICS=1`, like the
    /// other diagnostics functions.
    static func registerChaos(_ functions: inout FunctionRegistry) {
        /// Creates the accounts `chaos-acct-0` … that do not exist yet, each with `balance`.
        functions.mutation("chaos:setup", args: ["accounts": v.number(), "balance": v.number()]) { ctx, args in
            let balance = try args.double("balance")
            for i in 0..<Int(try args.double("accounts")) {
                let name = "chaos-acct-\(i)"
                if try account(ctx.db, name) == nil {
                    try ctx.db.insert("chaosAccounts", ["name": .string(name), "balance": .float64(balance)])
                }
            }
            return Value.null
        }

        functions.mutation("chaos:insert", args: ["writeId": v.string()]) { ctx, args in
            try record(ctx, try args.string("writeId"), kind: "insert")
        }

        /// Moves `amount` from one account to another; refused (nothing written) when the source
        /// would go negative, which gives the checker refused calls to find absent.
        functions.mutation(
            "chaos:transfer", args: ["writeId": v.string(), "from": v.string(), "to": v.string(), "amount": v.number()]
        ) { ctx, args in
            let amount = try args.double("amount")
            guard let from = try account(ctx.db, try args.string("from")), let to = try account(ctx.db, try args.string("to")) else {
                throw UserError("chaos:transfer: both accounts must exist (run chaos:setup first)")
            }
            let fromBalance = from["balance"]?.doubleValue ?? 0
            guard fromBalance >= amount else {
                throw ConvexError(["code": "insufficientBalance", "balance": .float64(fromBalance)])
            }
            try ctx.db.patch(from.id, ["balance": .float64(fromBalance - amount)])
            try ctx.db.patch(to.id, ["balance": .float64((to["balance"]?.doubleValue ?? 0) + amount)])
            return try record(ctx, try args.string("writeId"), kind: "transfer")
        }

        functions.mutation("chaos:increment", args: ["writeId": v.string(), "counter": v.string()]) { ctx, args in
            let name = try args.string("counter")
            if let existing = try ctx.db.query("counters").withIndex("by_name", { $0.eq("name", name) }).first() {
                try ctx.db.patch(existing.id, ["value": .float64((existing["value"]?.doubleValue ?? 0) + 1)])
            } else {
                try ctx.db.insert("counters", ["name": .string(name), "value": 1])
            }
            return try record(ctx, try args.string("writeId"), kind: "increment")
        }

        /// Every account's balance and their total, read in one snapshot: what subscribers watch.
        functions.query("chaos:accounts") { ctx, _ in
            let accounts = try ctx.db.query("chaosAccounts").withIndex("by_name").take(1_000)
            var balances: [String: Value] = [:]
            var total = 0.0
            for account in accounts {
                let balance = account["balance"]?.doubleValue ?? 0
                balances[account["name"]?.stringValue ?? ""] = .float64(balance)
                total += balance
            }
            return ["balances": .object(balances), "total": .float64(total)] as Value
        }

        /// How many times `writeId` took effect (read-your-writes: 1 right after its ack).
        functions.query("chaos:writeCount", args: ["writeId": v.string()]) { ctx, args in
            let id = try args.string("writeId")
            return Value.float64(Double(try ctx.db.query("chaosWrites").withIndex("by_write_id", { $0.eq("writeId", id) }).take(100).count))
        }

        /// The recorded writes after `after` in writeId order, `limit` at most: the final check
        /// pages through all of them.
        functions.query("chaos:writes", args: ["after": v.string(), "limit": v.number()]) { ctx, args in
            let after = try args.string("after")
            let writes = try ctx.db.query("chaosWrites").withIndex("by_write_id", { $0.gt("writeId", after) })
                .take(Int(try args.double("limit")))
            return Value.array(writes.map { .string($0["writeId"]?.stringValue ?? "") })
        }

        /// The counters named `prefix-…`, by name.
        functions.query("chaos:counters", args: ["prefix": v.string()]) { ctx, args in
            let prefix = try args.string("prefix")
            let counters = try ctx.db.query("counters").withIndex("by_name", { $0.gte("name", "\(prefix)-").lt("name", "\(prefix).") })
                .take(1_000)
            var values: [String: Value] = [:]
            for counter in counters { values[counter["name"]?.stringValue ?? ""] = counter["value"] ?? 0 }
            return Value.object(values)
        }
    }

    private static func account(_ db: DatabaseWriter, _ name: String) throws -> Document? {
        try db.query("chaosAccounts").withIndex("by_name", { $0.eq("name", name) }).first()
    }

    private static func record(_ ctx: MutationContext, _ writeId: String, kind: String) throws -> Value {
        try ctx.db.insert("chaosWrites", ["writeId": .string(writeId), "kind": .string(kind)])
        return Value.null
    }
}
