import Ripple

/// Small functions outside the chat domain that the conformance suite uses to check the wire
/// format of every value type and every kind of error through the official clients. They take
/// and return any `Value`: what they check is the value model itself.
enum Diagnostics {
    struct ValueArgs: Codable, Sendable {
        var value: Value
    }

    struct DataArgs: Codable, Sendable {
        var data: Value
    }

    struct MessageArgs: Codable, Sendable {
        var message: String
    }

    struct TransferArgs: Codable, Sendable {
        var from: ID<Channel>
        var to: ID<Channel>
        var amount: Double
    }

    static let echo = QueryReference<ValueArgs, Value>("diagnostics:echo")
    static let echoMutation = MutationReference<ValueArgs, Value>("diagnostics:echoMutation")
    static let echoAction = ActionReference<ValueArgs, Value>("diagnostics:echoAction")
    static let throwConvexError = QueryReference<DataArgs, Nothing>("diagnostics:throwConvexError")
    static let failMutation = MutationReference<DataArgs, Nothing>("diagnostics:failMutation")
    static let throwError = QueryReference<MessageArgs, Nothing>("diagnostics:throwError")
    static let whoami = QueryReference<NoArguments, Value>("diagnostics:whoami")
    static let transferMembers = MutationReference<TransferArgs, Nothing>("diagnostics:transferMembers")
    static let internalEcho = QueryReference<ValueArgs, Value>("diagnostics:internalEcho")
}

extension ChatApp {
    static func registerDiagnostics(_ functions: inout FunctionRegistry) {
        functions.query(Diagnostics.echo) { _, args in args.value }
        functions.mutation(Diagnostics.echoMutation) { _, args in args.value }
        functions.action(Diagnostics.echoAction) { _, args in args.value }
        functions.query(Diagnostics.throwConvexError) { _, args in throw ConvexError(args.data) }
        functions.mutation(Diagnostics.failMutation) { _, args in throw ConvexError(args.data) }
        functions.query(Diagnostics.throwError) { _, args in throw UserError(args.message) }
        functions.query(Diagnostics.whoami) { ctx, _ in ctx.auth.getUserIdentity()?.value ?? .null }
        // Moves `amount` members from one channel to another in one mutation: the sum over both
        // is invariant, which lets cluster tests check that no node ever shows a half-applied commit.
        functions.mutation(Diagnostics.transferMembers) { ctx, args in
            guard let from = try ctx.db.get(args.from), let to = try ctx.db.get(args.to) else {
                throw UserError("Both channels must exist")
            }
            try ctx.db.patch(from.id, ["memberCount": from.memberCount - args.amount])
            try ctx.db.patch(to.id, ["memberCount": to.memberCount + args.amount])
            return Nothing()
        }
        functions.internalQuery(Diagnostics.internalEcho) { _, args in args.value }
    }
}
