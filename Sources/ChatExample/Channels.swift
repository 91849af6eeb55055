import Ripple

extension ChatApp {
    static func registerChannels(_ functions: inout FunctionRegistry) {
        functions.mutation(
            "channels:create",
            args: ["name": v.string(), "description": v.optional(v.string()), "isPrivate": v.optional(v.boolean())]
        ) { ctx, args in
            let owner = try requireUser(ctx.db, ctx.auth)
            var fields: [String: Value] = [
                "name": .string(try args.string("name")),
                "isPrivate": .boolean(try args.optionalBool("isPrivate") ?? false),
                "ownerId": .string(owner.id),
                "memberCount": 1,
                "lastActivityAt": .float64(ctx.now),
            ]
            if let description = try args.optionalString("description") { fields["description"] = .string(description) }
            return try ctx.db.insert("channels", fields)
        }

        /// The 50 most recently active channels.
        functions.query("channels:list") { ctx, _ in
            try ctx.db.query("channels").withIndex("by_last_activity").order(.desc).take(50)
        }
    }
}
