import Ripple

extension ChatApp {
    static func registerMessages(_ functions: inout FunctionRegistry) {
        /// The seed's live query: the newest 50 messages of a channel.
        functions.query("messages:getMessages", args: ["channelId": v.id("channels")]) { ctx, args in
            let channelId = try args.string("channelId")
            return try ctx.db.query("messages")
                .withIndex("by_channel") { $0.eq("channelId", channelId) }
                .order(.desc)
                .take(50)
        }

        /// A channel's messages, newest first, a page at a time (for `usePaginatedQuery`).
        functions.query("messages:listPaginated", args: ["channelId": v.id("channels"), "paginationOpts": paginationOptsValidator]) {
            ctx, args in
            let channelId = try args.string("channelId")
            return try ctx.db.query("messages")
                .withIndex("by_channel") { $0.eq("channelId", channelId) }
                .order(.desc)
                .paginate(args["paginationOpts"]!)
        }

        functions.mutation("messages:sendMessage", args: ["channelId": v.id("channels"), "content": v.string()]) { ctx, args in
            // The seed stores `identity.subject` in `userId`, which its own schema declares as
            // `v.id("users")`; we store the caller's users document id instead, which is what
            // the schema (and the by_user index) mean.
            let user = try requireUser(ctx.db, ctx.auth)
            let channelId = try args.string("channelId")
            guard try ctx.db.get(channelId) != nil else { throw UserError("Channel \(channelId) does not exist") }
            let id = try ctx.db.insert("messages", [
                "channelId": .string(channelId),
                "userId": .string(user.id),
                "content": .string(try args.string("content")),
                "timestamp": .float64(ctx.now),
            ])
            try ctx.db.patch(channelId, ["lastActivityAt": .float64(ctx.now)])
            return id
        }
    }
}

/// Convex's `paginationOptsValidator`.
let paginationOptsValidator = v.object([
    "numItems": v.number(),
    "cursor": v.union(v.string(), v.null()),
    "endCursor": v.optional(v.union(v.string(), v.null())),
    "id": v.optional(v.number()),
    "maximumRowsRead": v.optional(v.number()),
    "maximumBytesRead": v.optional(v.number()),
])
