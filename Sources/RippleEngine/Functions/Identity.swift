import RippleValues

/// Who is calling a function: nobody, a user with a verified token, or an operator holding the
/// admin key (optionally acting as a user).
public enum Identity: Sendable, Hashable {
    case anonymous
    case user(UserIdentity)
    case admin(actingAs: UserIdentity?)

    /// The user that `ctx.auth.getUserIdentity()` returns.
    public var user: UserIdentity? {
        switch self {
        case .anonymous: nil
        case .user(let user): user
        case .admin(let acting): acting
        }
    }

    public var isAdmin: Bool {
        if case .admin = self { return true }
        return false
    }
}

/// A verified user, as Convex's `UserIdentity`: `tokenIdentifier` (`issuer|subject`), `subject`,
/// `issuer`, and the standard OpenID claims under their Convex names (`name`, `email`,
/// `pictureUrl`, …) plus custom claims, all in `fields`.
public struct UserIdentity: Sendable, Hashable {
    public let fields: [String: Value]

    public init(subject: String, issuer: String, claims: [String: Value] = [:]) {
        var fields = claims
        fields["subject"] = .string(subject)
        fields["issuer"] = .string(issuer)
        fields["tokenIdentifier"] = .string("\(issuer)|\(subject)")
        self.fields = fields
    }

    public var subject: String { fields["subject"]?.stringValue ?? "" }
    public var issuer: String { fields["issuer"]?.stringValue ?? "" }
    public var tokenIdentifier: String { fields["tokenIdentifier"]?.stringValue ?? "" }
    public var name: String? { fields["name"]?.stringValue }
    public var email: String? { fields["email"]?.stringValue }
    public var pictureUrl: String? { fields["pictureUrl"]?.stringValue }

    public subscript(claim: String) -> Value? { fields[claim] }

    /// The identity as a Convex object, as `getUserIdentity()` returns it to a client.
    public var value: Value { .object(fields) }
}
