import Ripple

/// `convex/messages.ts`.
public enum Messages {
    public struct ChannelArgs: Codable, Sendable {
        public var channelId: ID<Channel>
    }

    public struct ListArgs: Codable, Sendable {
        public var channelId: ID<Channel>
        public var paginationOpts: PaginationOpts
    }

    public struct SendArgs: Codable, Sendable {
        public var channelId: ID<Channel>
        public var content: String
    }

    public static let getMessages = QueryReference<ChannelArgs, [Stored<Message>]>("messages:getMessages")
    public static let listPaginated = QueryReference<ListArgs, Page<Stored<Message>>>("messages:listPaginated")
    public static let sendMessage = MutationReference<SendArgs, ID<Message>>("messages:sendMessage")
}

extension ChatApp {
    static func registerMessages(_ functions: inout FunctionRegistry) {
        /// The seed's live query: the newest 50 messages of a channel.
        functions.query(Messages.getMessages) { ctx, args in
            try ctx.db.query(Message.self)
                .withIndex("by_channel") { $0.eq(\.channelId, args.channelId) }
                .order(.desc)
                .take(50)
        }

        /// A channel's messages, newest first, a page at a time (for `usePaginatedQuery`).
        functions.query(Messages.listPaginated) { ctx, args in
            try ctx.db.query(Message.self)
                .withIndex("by_channel") { $0.eq(\.channelId, args.channelId) }
                .order(.desc)
                .paginate(args.paginationOpts)
        }

        functions.mutation(Messages.sendMessage) { ctx, args in
            // The seed stores `identity.subject` in `userId`, which its own schema declares as
            // `v.id("users")`; we store the caller's users document id instead, which is what
            // the schema (and the by_user index) mean.
            let user = try requireUser(ctx.db, ctx.auth)
            guard try ctx.db.get(args.channelId) != nil else { throw UserError("Channel \(args.channelId) does not exist") }
            let id = try ctx.db.insert(Message(channelId: args.channelId, userId: user.id, content: args.content, timestamp: ctx.now))
            try ctx.db.patch(args.channelId, ["lastActivityAt": ctx.now])
            return id
        }
    }
}
