import Ripple

extension ChatApp {
    static func registerUsers(_ functions: inout FunctionRegistry) {
        /// Called on every sign-in: creates the user's record or refreshes name and picture.
        functions.mutation("users:upsertUser") { ctx, _ in
            guard let identity = ctx.auth.getUserIdentity() else { throw UserError("Unauthenticated") }
            if let existing = try userRecord(ctx.db, clerkId: identity.subject) {
                var changes: [String: Value?] = [:]
                if let name = identity.name { changes["name"] = .string(name) }
                if let picture = identity.pictureUrl { changes["imageUrl"] = .string(picture) }
                if !changes.isEmpty { try ctx.db.patch(existing.id, changes) }
                return existing.id
            }
            // The seed uses `identity.email!`; a token without an email should not crash the
            // mutation, so fall back to the subject and say what is missing in the name.
            let email = identity.email ?? ""
            var fields: [String: Value] = [
                "clerkId": .string(identity.subject),
                "email": .string(email),
                "name": .string(identity.name ?? (email.isEmpty ? identity.subject : email)),
                "createdAt": .float64(ctx.now),
            ]
            if let picture = identity.pictureUrl { fields["imageUrl"] = .string(picture) }
            return try ctx.db.insert("users", fields)
        }

        /// The signed-in user's record, or null.
        functions.query("users:getCurrentUser") { ctx, _ -> Document? in
            guard let identity = ctx.auth.getUserIdentity() else { return nil }
            return try userRecord(ctx.db, clerkId: identity.subject)
        }

        /// Users the daily summaries are generated for. The seed's schema has no activity
        /// field, so "active" means every user, newest first, at most 1,000.
        functions.query("users:getActiveUsers") { ctx, _ in
            try ctx.db.query("users").order(.desc).take(1_000)
        }
    }

    /// The `users` document of a Clerk subject.
    static func userRecord(_ db: DatabaseReader, clerkId: String) throws -> Document? {
        try db.query("users").withIndex("by_clerk_id") { $0.eq("clerkId", clerkId) }.first()
    }

    /// The caller's `users` document; mutations that attribute data to a user need one.
    static func requireUser(_ db: DatabaseReader, _ auth: Auth) throws -> Document {
        guard let identity = auth.getUserIdentity() else { throw UserError("Unauthenticated") }
        guard let user = try userRecord(db, clerkId: identity.subject) else {
            throw UserError("No user record for this identity; call users:upsertUser after signing in")
        }
        return user
    }
}
