import Ripple

public enum Channels {
    public struct CreateArgs: Codable, Sendable {
        public var name: String
        public var description: String?
        public var isPrivate: Bool?
    }

    public static let create = MutationReference<CreateArgs, ID<Channel>>("channels:create")
    public static let list = QueryReference<NoArguments, [Stored<Channel>]>("channels:list")
}

extension ChatApp {
    static func registerChannels(_ functions: inout FunctionRegistry) {
        functions.mutation(Channels.create) { ctx, args in
            let owner = try requireUser(ctx.db, ctx.auth)
            return try ctx.db.insert(Channel(
                name: args.name, description: args.description, isPrivate: args.isPrivate ?? false, ownerId: owner.id,
                memberCount: 1, lastActivityAt: ctx.now))
        }

        /// The 50 most recently active channels.
        functions.query(Channels.list) { ctx, _ in
            try ctx.db.query(Channel.self).withIndex("by_last_activity").order(.desc).take(50)
        }
    }
}
