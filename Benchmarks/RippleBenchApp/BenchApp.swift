import RippleEngine
import RippleValues

/// The functions the networked benchmarks call, served by `bench-server` (any role) so that the
/// load generator in Benchmarks/Peers drives Ripple and PostgreSQL with the same workload:
/// - `events:insert`: one document into a table with one secondary index (the mutations part);
/// - `accounts:seed` / `accounts:transfer`: SpacetimeDB's keynote-2 shape (the transfers part);
/// - `events:bySeq`: a live query per `seq` (the subscriptions part);
/// - `messages:send` / `messages:recent`: the chat workload of the reactivity part (a channel's
///   newest messages, as the PostgreSQL listeners re-read them);
/// - `accounts:balance`: one indexed point read (the reads part).
public enum BenchApp {
    /// Accounts are addressed by `number` through an index, as PostgreSQL addresses them by
    /// primary key: both sides pay one index lookup per account.
    public static let schema = Schema([
        TableDefinition("events", ["seq": v.number(), "payload": v.string()]).index("by_seq", ["seq"]),
        TableDefinition("accounts", ["number": v.number(), "balance": v.number()]).index("by_number", ["number"]),
        TableDefinition("messages", ["channel": v.number(), "seq": v.number(), "body": v.string()]).index("by_channel", ["channel", "seq"]),
    ])

    /// How many of a channel's newest messages `messages:recent` returns (and PostgreSQL's listener query).
    public static let recentMessages = 10

    /// At most this many accounts per `accounts:seed` call, so one seeding transaction stays small.
    public static let seedBatch = 10_000

    public static let app: App = {
        var functions = FunctionRegistry()
        functions.mutation("events:insert", args: ["seq": v.number(), "payload": v.string()]) { ctx, args in
            try ctx.db.insert("events", args.fields)
        }
        functions.mutation("accounts:seed", args: ["first": v.number(), "count": v.number(), "balance": v.number()]) { ctx, args in
            let first = try args.int("first", in: 0...100_000_000)
            let count = try args.int("count", in: 0...seedBatch)
            let balance = try args.double("balance")
            for number in first..<(first + count) {
                _ = try ctx.db.insert("accounts", ["number": .float64(Double(number)), "balance": .float64(balance)])
            }
            return count
        }
        functions.mutation("accounts:transfer", args: ["from": v.number(), "to": v.number(), "amount": v.number()]) { ctx, args in
            let amount = try args.double("amount")
            let from = try account(ctx.db, try args.double("from"))
            let to = try account(ctx.db, try args.double("to"))
            let fromBalance = from.balance?.doubleValue ?? 0
            guard fromBalance >= amount else { throw UserError("insufficient funds") }
            try ctx.db.patch(from.id, ["balance": .float64(fromBalance - amount)])
            try ctx.db.patch(to.id, ["balance": .float64((to.balance?.doubleValue ?? 0) + amount)])
            return true
        }
        // One subscription per `seq` for the subscriptions part: distinct read sets, none of which
        // the part's writes (positive `seq`) touch.
        functions.query("events:bySeq", args: ["seq": v.number()]) { ctx, args in
            let seq = try args.double("seq")
            return try ctx.db.query("events").withIndex("by_seq", { $0.eq("seq", seq) }).first()
        }
        functions.mutation("messages:send", args: ["channel": v.number(), "seq": v.number(), "body": v.string()]) { ctx, args in
            try ctx.db.insert("messages", args.fields)
        }
        // The `seq`s of the channel's newest messages, newest first: what a chat client re-reads.
        functions.query("messages:recent", args: ["channel": v.number()]) { ctx, args in
            let channel = try args.double("channel")
            let newest = try ctx.db.query("messages").withIndex("by_channel", { $0.eq("channel", channel) }).order(.desc).take(recentMessages)
            return Value.array(newest.map { $0.seq ?? .null })
        }
        functions.query("accounts:balance", args: ["number": v.number()]) { ctx, args in
            try account(ctx.db, try args.double("number")).balance ?? .null
        }
        functions.query("accounts:total", args: [:]) { ctx, _ in
            try ctx.db.query("accounts").collect().reduce(0.0) { $0 + ($1.balance?.doubleValue ?? 0) }
        }
        return App(schema: schema, functions: functions)
    }()

    static func account(_ db: DatabaseReader, _ number: Double) throws -> Document {
        guard let account = try db.query("accounts").withIndex("by_number", { $0.eq("number", number) }).unique() else {
            throw UserError("no account \(Int(number))")
        }
        return account
    }
}
