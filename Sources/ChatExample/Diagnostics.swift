import Ripple

extension ChatApp {
    /// Small functions outside the chat domain that the conformance suite uses to check the
    /// wire format of every value type and every kind of error through the official clients.
    static func registerDiagnostics(_ functions: inout FunctionRegistry) {
        functions.query("diagnostics:echo", args: ["value": v.any()]) { _, args in args["value"]! }
        functions.mutation("diagnostics:echoMutation", args: ["value": v.any()]) { _, args in args["value"]! }
        functions.action("diagnostics:echoAction", args: ["value": v.any()]) { _, args in args["value"]! }
        functions.query("diagnostics:throwConvexError", args: ["data": v.any()]) { _, args -> Value in
            throw ConvexError(args["data"]!)
        }
        functions.mutation("diagnostics:failMutation", args: ["data": v.any()]) { _, args -> Value in
            throw ConvexError(args["data"]!)
        }
        functions.query("diagnostics:throwError", args: ["message": v.string()]) { _, args -> Value in
            throw UserError(try args.string("message"))
        }
        functions.query("diagnostics:whoami") { ctx, _ in ctx.auth.getUserIdentity()?.value ?? .null }
        // Moves `amount` members from one channel to another in one mutation: the sum over both
        // is invariant, which lets cluster tests check that no node ever shows a half-applied commit.
        functions.mutation("diagnostics:transferMembers", args: ["from": v.id("channels"), "to": v.id("channels"), "amount": v.number()]) {
            ctx, args in
            let amount = try args.double("amount")
            guard let from = try ctx.db.get(try args.string("from")), let to = try ctx.db.get(try args.string("to")) else {
                throw UserError("Both channels must exist")
            }
            try ctx.db.patch(from.id, ["memberCount": .float64((from["memberCount"]?.doubleValue ?? 0) - amount)])
            try ctx.db.patch(to.id, ["memberCount": .float64((to["memberCount"]?.doubleValue ?? 0) + amount)])
            return Value.null
        }
        functions.internalQuery("diagnostics:internalEcho", args: ["value": v.any()]) { _, args in args["value"]! }
    }
}
