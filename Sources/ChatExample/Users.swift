import Ripple

/// `convex/users.ts`.
public enum Users {
    public static let upsertUser = MutationReference<NoArguments, ID<User>>("users:upsertUser")
    public static let getCurrentUser = QueryReference<NoArguments, Stored<User>?>("users:getCurrentUser")
    public static let getActiveUsers = QueryReference<NoArguments, [Stored<User>]>("users:getActiveUsers")
}

extension ChatApp {
    static func registerUsers(_ functions: inout FunctionRegistry) {
        /// Called on every sign-in: creates the user's record or refreshes name and picture.
        functions.mutation(Users.upsertUser) { ctx, _ in
            guard let identity = ctx.auth.getUserIdentity() else { throw UserError("Unauthenticated") }
            if let existing = try userRecord(ctx.db, clerkId: identity.subject) {
                if identity.name != nil || identity.pictureUrl != nil {
                    try ctx.db.patch(existing.id, [
                        "name": identity.name ?? existing.name, "imageUrl": identity.pictureUrl ?? existing.imageUrl,
                    ])
                }
                return existing.id
            }
            // The seed uses `identity.email!`; a token without an email should not crash the
            // mutation, so fall back to the subject and say what is missing in the name.
            let email = identity.email ?? ""
            return try ctx.db.insert(User(
                clerkId: identity.subject, email: email, name: identity.name ?? (email.isEmpty ? identity.subject : email),
                imageUrl: identity.pictureUrl, createdAt: ctx.now))
        }

        /// The signed-in user's record, or null.
        functions.query(Users.getCurrentUser) { ctx, _ in
            guard let identity = ctx.auth.getUserIdentity() else { return nil }
            return try userRecord(ctx.db, clerkId: identity.subject)
        }

        /// Users the daily summaries are generated for. The seed's schema has no activity
        /// field, so "active" means every user, newest first, at most 1,000.
        functions.query(Users.getActiveUsers) { ctx, _ in
            try ctx.db.query(User.self).order(.desc).take(1_000)
        }
    }

    /// The `users` document of a Clerk subject.
    static func userRecord(_ db: DatabaseReader, clerkId: String) throws -> Stored<User>? {
        try db.query(User.self).withIndex("by_clerk_id") { $0.eq(\.clerkId, clerkId) }.first()
    }

    /// The caller's `users` document; mutations that attribute data to a user need one.
    static func requireUser(_ db: DatabaseReader, _ auth: Auth) throws -> Stored<User> {
        guard let identity = auth.getUserIdentity() else { throw UserError("Unauthenticated") }
        guard let user = try userRecord(db, clerkId: identity.subject) else {
            throw UserError("No user record for this identity; call users:upsertUser after signing in")
        }
        return user
    }
}
