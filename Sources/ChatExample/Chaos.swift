import Ripple

/// The chaos suite's workload (Tests/chaos): every mutation carries a unique `writeId` and
/// records it in `chaosWrites` in its own transaction, so the checker can count how often each
/// call took effect; transfers move balance between `chaosAccounts` (the total never changes),
/// increments bump `counters`. Served only with `CHAT_DIAGNOSTICS=1`, like the other
/// diagnostics functions.
enum Chaos {
    struct SetupArgs: Codable, Sendable {
        var accounts: Int
        var balance: Double
    }

    struct WriteArgs: Codable, Sendable {
        var writeId: String
    }

    struct TransferArgs: Codable, Sendable {
        var writeId: String
        var from: String
        var to: String
        var amount: Double
    }

    struct IncrementArgs: Codable, Sendable {
        var writeId: String
        var counter: String
    }

    struct Accounts: Codable, Sendable {
        var balances: [String: Double]
        var total: Double
    }

    struct WritesArgs: Codable, Sendable {
        var after: String
        var limit: Int
    }

    struct PrefixArgs: Codable, Sendable {
        var prefix: String
    }

    /// What `chaos:transfer` refuses with, as `ConvexError` data.
    struct InsufficientBalance: Codable, Sendable {
        var code = "insufficientBalance"
        var balance: Double
    }

    static let setup = MutationReference<SetupArgs, Nothing>("chaos:setup")
    static let insert = MutationReference<WriteArgs, Nothing>("chaos:insert")
    static let transfer = MutationReference<TransferArgs, Nothing>("chaos:transfer")
    static let increment = MutationReference<IncrementArgs, Nothing>("chaos:increment")
    static let accounts = QueryReference<NoArguments, Accounts>("chaos:accounts")
    static let writeCount = QueryReference<WriteArgs, Int>("chaos:writeCount")
    static let writes = QueryReference<WritesArgs, [String]>("chaos:writes")
    static let counters = QueryReference<PrefixArgs, [String: Double]>("chaos:counters")
}

extension ChatApp {
    static func registerChaos(_ functions: inout FunctionRegistry) {
        /// Creates the accounts `chaos-acct-0` … that do not exist yet, each with `balance`.
        functions.mutation(Chaos.setup) { ctx, args in
            guard args.accounts >= 0 else { throw UserError("chaos:setup: accounts must not be negative") }
            for i in 0..<args.accounts where try account(ctx.db, "chaos-acct-\(i)") == nil {
                try ctx.db.insert(ChaosAccount(name: "chaos-acct-\(i)", balance: args.balance))
            }
            return Nothing()
        }

        functions.mutation(Chaos.insert) { ctx, args in try record(ctx, args.writeId, kind: "insert") }

        /// Moves `amount` from one account to another; refused (nothing written) when the source
        /// would go negative, which gives the checker refused calls to find absent.
        functions.mutation(Chaos.transfer) { ctx, args in
            guard let from = try account(ctx.db, args.from), let to = try account(ctx.db, args.to) else {
                throw UserError("chaos:transfer: both accounts must exist (run chaos:setup first)")
            }
            guard from.balance >= args.amount else {
                throw ConvexError(try ValueEncoder().encode(Chaos.InsufficientBalance(balance: from.balance)))
            }
            try ctx.db.patch(from.id, ["balance": from.balance - args.amount])
            try ctx.db.patch(to.id, ["balance": to.balance + args.amount])
            return try record(ctx, args.writeId, kind: "transfer")
        }

        functions.mutation(Chaos.increment) { ctx, args in
            try increment(ctx.db, counter: args.counter)
            return try record(ctx, args.writeId, kind: "increment")
        }

        /// Every account's balance and their total, read in one snapshot: what subscribers watch.
        functions.query(Chaos.accounts) { ctx, _ in
            let accounts = try ctx.db.query(ChaosAccount.self).withIndex("by_name").take(1_000)
            return .init(
                balances: Dictionary(accounts.map { ($0.name, $0.balance) }, uniquingKeysWith: { $1 }),
                total: accounts.reduce(0) { $0 + $1.balance })
        }

        /// How many times `writeId` took effect (read-your-writes: 1 right after its ack).
        functions.query(Chaos.writeCount) { ctx, args in
            try ctx.db.query(ChaosWrite.self).withIndex("by_write_id") { $0.eq(\.writeId, args.writeId) }.take(100).count
        }

        /// The recorded writes after `after` in writeId order, `limit` at most: the final check
        /// pages through all of them.
        functions.query(Chaos.writes) { ctx, args in
            try ctx.db.query(ChaosWrite.self).withIndex("by_write_id") { $0.gt(\.writeId, args.after) }.take(args.limit).map(\.record.writeId)
        }

        /// The counters named `prefix-…`, by name.
        functions.query(Chaos.counters) { ctx, args in
            let counters = try ctx.db.query(Counter.self)
                .withIndex("by_name") { $0.gte(\.name, "\(args.prefix)-").lt(\.name, "\(args.prefix).") }
                .take(1_000)
            return Dictionary(counters.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        }
    }

    private static func account(_ db: DatabaseWriter, _ name: String) throws -> Stored<ChaosAccount>? {
        try db.query(ChaosAccount.self).withIndex("by_name") { $0.eq(\.name, name) }.first()
    }

    private static func record(_ ctx: MutationContext, _ writeId: String, kind: String) throws -> Nothing {
        try ctx.db.insert(ChaosWrite(writeId: writeId, kind: kind))
        return Nothing()
    }
}
