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
        functions.internalQuery("diagnostics:internalEcho", args: ["value": v.any()]) { _, args in args["value"]! }
    }
}
