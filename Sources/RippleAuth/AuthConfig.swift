import Foundation

/// One identity provider, the Swift form of an entry in Convex's `auth.config.ts`
/// (`{ domain: "https://…clerk.accounts.dev", applicationID: "convex" }`).
public struct AuthProvider: Sendable, Hashable {
    /// The issuer: tokens must carry it as `iss` (a trailing `/` on either side is ignored).
    public var domain: String
    /// The audience: tokens must list it in `aud`.
    public var applicationID: String
    /// Where the issuer's signing keys come from.
    public var keys: KeySource

    public init(domain: String, applicationID: String, keys: KeySource = .discovery) {
        self.domain = domain
        self.applicationID = applicationID
        self.keys = keys
    }
}

/// Where a provider's signing keys come from.
public enum KeySource: Sendable, Hashable {
    /// OIDC discovery at the issuer, then its `jwks_uri`; cached and refetched on an unknown `kid`.
    case discovery
    /// A fixed JWKS document (JSON text), for offline use and tests; never refetched.
    case jwks(String)

    /// A fixed JWKS read now from a file.
    public static func jwksFile(_ path: String) throws(AuthConfigError) -> KeySource {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw AuthConfigError("cannot read the JWKS file \(path)")
        }
        return .jwks(text)
    }

    /// A fixed JWKS read now from an environment variable holding the JSON.
    public static func jwksEnvironment(
        _ variable: String,
        in environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(AuthConfigError) -> KeySource {
        guard let text = environment[variable], !text.isEmpty else {
            throw AuthConfigError("the environment variable \(variable) that should hold a JWKS is not set")
        }
        return .jwks(text)
    }
}

/// Everything auth needs: the user-token providers and the admin key for trusted callers.
public struct AuthConfig: Sendable {
    /// Accepted identity providers; none means every user token is refused.
    public var providers: [AuthProvider]
    /// The key that authorizes admin-only operations; `nil` or empty disables admin access.
    public var adminKey: String?

    /// The environment variable conventionally holding the admin key.
    public static let adminKeyVariable = "RIPPLE_ADMIN_KEY"

    public init(providers: [AuthProvider] = [], adminKey: String? = nil) {
        self.providers = providers
        self.adminKey = adminKey
    }

    /// The admin key from `RIPPLE_ADMIN_KEY`, if set and non-empty.
    public static func adminKey(
        fromEnvironment environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        environment[adminKeyVariable].flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// A mistake in the auth configuration, found when the `Authenticator` is made; for the operator.
public struct AuthConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
