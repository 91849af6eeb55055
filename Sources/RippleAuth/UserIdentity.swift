import Foundation
import RippleValues

/// A verified user, what `ctx.auth.getUserIdentity()` returns: the OIDC standard claims under Convex's
/// names, plus every other claim of the token as a custom claim.
public struct UserIdentity: Sendable, Hashable {
    /// `sub`.
    public var subject: String
    /// `iss`, exactly as the token wrote it.
    public var issuer: String
    /// `"\(issuer)|\(subject)"`: the stable key to store users by.
    public var tokenIdentifier: String
    public var name: String?
    public var givenName: String?
    public var familyName: String?
    public var nickname: String?
    public var preferredUsername: String?
    /// `profile`.
    public var profileUrl: String?
    /// `picture`.
    public var pictureUrl: String?
    /// `website`.
    public var websiteUrl: String?
    public var email: String?
    public var emailVerified: Bool?
    public var gender: String?
    /// `birthdate`.
    public var birthday: String?
    /// `zoneinfo`.
    public var timezone: String?
    /// `locale`.
    public var language: String?
    public var phoneNumber: String?
    public var phoneNumberVerified: Bool?
    /// `address.formatted` (or `address` when the provider sends a plain string).
    public var address: String?
    /// `updated_at` as an RFC 3339 string, as Convex reports it.
    public var updatedAt: String?
    /// Every claim that is neither a registered JWT claim (`aud`, `exp`, …) nor one of the above.
    public var customClaims: [String: Value]
    /// `exp`: when this identity stops being valid (see `Authenticator.checkNotExpired`).
    public var expiresAt: Date

    public init(subject: String, issuer: String, expiresAt: Date, customClaims: [String: Value] = [:]) {
        self.subject = subject
        self.issuer = issuer
        self.tokenIdentifier = "\(issuer)|\(subject)"
        self.expiresAt = expiresAt
        self.customClaims = customClaims
    }
}

// MARK: - From claims

extension UserIdentity {
    /// Claims that describe the token rather than the user; they never become custom claims.
    static let registeredClaims: Set<String> = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]

    /// OIDC claim name → Convex field, for the string-valued standard claims.
    private static let stringClaims: [(claim: String, field: WritableKeyPath<UserIdentity, String?> & Sendable)] = [
        ("name", \.name), ("given_name", \.givenName), ("family_name", \.familyName), ("nickname", \.nickname),
        ("preferred_username", \.preferredUsername), ("profile", \.profileUrl), ("picture", \.pictureUrl),
        ("website", \.websiteUrl), ("email", \.email), ("gender", \.gender), ("birthdate", \.birthday),
        ("zoneinfo", \.timezone), ("locale", \.language), ("phone_number", \.phoneNumber),
    ]

    private static let standardClaims: Set<String> = Set(stringClaims.map(\.claim)).union([
        "email_verified", "phone_number_verified", "address", "updated_at",
    ])

    /// Builds the identity from claims already verified. A standard claim of the wrong type is left
    /// out rather than refusing the whole token: providers' custom templates are not always strict.
    init(claims: [String: JSON], subject: String, issuer: String, expiresAt: Date) {
        self.init(subject: subject, issuer: issuer, expiresAt: expiresAt)
        for (claim, field) in Self.stringClaims {
            self[keyPath: field] = claims[claim]?.stringValue
        }
        emailVerified = claims["email_verified"].flatMap(Self.flag)
        phoneNumberVerified = claims["phone_number_verified"].flatMap(Self.flag)
        switch claims["address"] {
        case .string(let text): address = text
        case .some(let object): address = object["formatted"]?.stringValue
        case nil: address = nil
        }
        switch claims["updated_at"] {
        case .int(let seconds): updatedAt = Self.rfc3339Seconds(Double(seconds))
        case .number(let seconds) where seconds.isFinite: updatedAt = Self.rfc3339Seconds(seconds)
        case .string(let text): updatedAt = text
        default: updatedAt = nil
        }
        for (claim, value) in claims where !Self.registeredClaims.contains(claim) && !Self.standardClaims.contains(claim) {
            customClaims[claim] = Self.value(value)
        }
    }

    /// OIDC booleans; some providers send `"true"`.
    private static func flag(_ json: JSON) -> Bool? {
        switch json {
        case .bool(let b): return b
        case .string("true"): return true
        case .string("false"): return false
        default: return nil
        }
    }

    /// Convex (chrono's `to_rfc3339`) writes UTC as `+00:00`.
    private static func rfc3339Seconds(_ seconds: Double) -> String {
        let date = Date(timeIntervalSince1970: seconds.rounded(.down))
        return String(date.formatted(.iso8601).dropLast()) + "+00:00"
    }

    /// JSON as a Convex value: every number is a float64, as in JavaScript.
    static func value(_ json: JSON) -> Value {
        switch json {
        case .null: return .null
        case .bool(let b): return .boolean(b)
        case .int(let i): return .float64(Double(i))
        case .number(let d): return .float64(d)
        case .string(let s): return .string(s)
        case .array(let items): return .array(items.map(value))
        case .object(let fields):
            var out: [String: Value] = [:]
            for (name, item) in fields where out[name] == nil { out[name] = value(item) }
            return .object(out)
        }
    }
}

// MARK: - As a Convex value

extension UserIdentity {
    /// The identity as a Convex object with Convex's field names (`tokenIdentifier`, `subject`,
    /// `issuer`, `name`, `email`, `pictureUrl`, …), absent claims left out, custom claims alongside.
    ///
    /// Custom claims whose names are not valid Convex field names (empty, `$…`, non-ASCII) are
    /// dropped, at any depth, so the object can always be returned from a query.
    public var asValue: Value {
        var fields: [String: Value] = [:]
        for (name, value) in customClaims {
            if let clean = Self.convexSafe(value), (try? FieldName.validate(name, path: "")) != nil { fields[name] = clean }
        }
        let standard: [(String, String?)] = [
            ("name", name), ("givenName", givenName), ("familyName", familyName), ("nickname", nickname),
            ("preferredUsername", preferredUsername), ("profileUrl", profileUrl), ("pictureUrl", pictureUrl),
            ("websiteUrl", websiteUrl), ("email", email), ("gender", gender), ("birthday", birthday),
            ("timezone", timezone), ("language", language), ("phoneNumber", phoneNumber), ("address", address),
            ("updatedAt", updatedAt),
        ]
        for case (let field, let text?) in standard { fields[field] = .string(text) }
        if let emailVerified { fields["emailVerified"] = .boolean(emailVerified) }
        if let phoneNumberVerified { fields["phoneNumberVerified"] = .boolean(phoneNumberVerified) }
        fields["subject"] = .string(subject)
        fields["issuer"] = .string(issuer)
        fields["tokenIdentifier"] = .string(tokenIdentifier)
        return .object(fields)
    }

    private static func convexSafe(_ value: Value) -> Value? {
        switch value {
        case .array(let items): return .array(items.compactMap(convexSafe))
        case .object(let fields):
            var out: [String: Value] = [:]
            for (name, item) in fields {
                if (try? FieldName.validate(name, path: "")) != nil, let clean = convexSafe(item) { out[name] = clean }
            }
            return .object(out)
        default: return value
        }
    }
}
