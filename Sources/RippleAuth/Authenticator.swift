import Foundation
import JWTKit
import Logging

/// Turns the credentials of a sync `Authenticate` message into an identity: verifies user JWTs
/// against the configured providers and recognizes the admin key.
///
/// One instance serves the whole process; it caches each issuer's keys (see `KeySetCache` for when
/// they are refetched). Network access goes through `HTTPClient.shared`, so there is nothing to shut
/// down.
public final class Authenticator: Sendable {
    /// The configuration this authenticator enforces.
    public let config: AuthConfig
    /// How far `exp` and `nbf` may be off the local clock. Issuers and servers keep time with NTP, so
    /// seconds suffice; the default of 10 s is small next to the one-minute lifetime of a Clerk token,
    /// so an expired token stays usable only briefly.
    public let clockLeeway: Duration

    private let providersByIssuer: [String: [AuthProvider]]
    private let keys: KeySetCache
    private let adminKey: AdminKey?
    private let now: @Sendable () -> Date

    /// Checks the configuration and prepares the key caches; no network access happens here.
    ///
    /// - Parameters:
    ///   - clockLeeway: tolerance for `exp` and `nbf`, 0–60 s.
    ///   - keyRefetchInterval: the least time between two key fetches for one issuer (unknown `kid`,
    ///     stale keys, or a retry after a failure).
    ///   - keySetLifetime: how long fetched keys are used before they are fetched again.
    ///   - fetcher: how discovery documents and key sets are downloaded.
    ///   - now: the clock; tests move it by hand.
    public init(
        config: AuthConfig,
        clockLeeway: Duration = .seconds(10),
        keyRefetchInterval: Duration = .seconds(30),
        keySetLifetime: Duration = .seconds(3600),
        fetcher: any DocumentFetcher = HTTPDocumentFetcher(),
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger = Logger(label: "ripple.auth")
    ) throws(AuthConfigError) {
        guard clockLeeway >= .zero, clockLeeway <= .seconds(60) else {
            throw AuthConfigError("the clock leeway must be between 0 and 60 seconds, not \(clockLeeway)")
        }
        if let adminKey = config.adminKey, let refusal = PlaceholderSecret.refusal(adminKey, setting: AuthConfig.adminKeyVariable) {
            throw AuthConfigError(refusal)
        }
        var providersByIssuer: [String: [AuthProvider]] = [:]
        var sources: [String: [JWK]?] = [:]
        for provider in config.providers {
            let issuer = Issuer.normalized(provider.domain)
            guard let url = URL(string: issuer), url.host != nil else {
                throw AuthConfigError("the auth provider domain \"\(provider.domain)\" is not an absolute URL")
            }
            guard !provider.applicationID.isEmpty else {
                throw AuthConfigError("the auth provider \"\(provider.domain)\" has an empty applicationID")
            }
            let source: [JWK]?
            switch provider.keys {
            case .discovery:
                if let refusal = TransportRule.refusal(for: url) {
                    throw AuthConfigError("the auth provider domain \(refusal)")
                }
                source = nil
            case .jwks(let text):
                do {
                    source = try KeySet.parse(Array(text.utf8))
                } catch {
                    throw AuthConfigError("the JWKS for \"\(provider.domain)\" is unusable: \(error.reason)")
                }
            }
            if let existing = sources[issuer], (existing == nil) != (source == nil) {
                throw AuthConfigError("the auth providers for \"\(provider.domain)\" mix discovery and a fixed JWKS")
            }
            if sources[issuer] == nil { sources[issuer] = .some(source) }
            providersByIssuer[issuer, default: []].append(provider)
        }
        self.config = config
        self.clockLeeway = clockLeeway
        self.providersByIssuer = providersByIssuer
        self.adminKey = AdminKey(config.adminKey)
        self.now = now
        self.keys = KeySetCache(
            issuers: sources,
            discovery: OIDCKeyDiscovery(fetcher: fetcher),
            timing: .init(refetchInterval: keyRefetchInterval, lifetime: keySetLifetime),
            now: now,
            logger: logger
        )
    }

    /// Verifies a user JWT (`tokenType: "User"`) and returns who it names.
    ///
    /// Checked in this order: shape and `alg`, issuer against the providers, signature with the
    /// issuer's key for `kid`, then `aud`, `exp`, `nbf` and `sub`.
    public func verify(userToken: String) async throws(AuthError) -> UserIdentity {
        let token = try UnverifiedToken(userToken)
        guard acceptedAlgorithms.contains(token.algorithm) else { throw .unsupportedAlgorithm(token.algorithm) }
        guard let issuer = try token.string("iss") else {
            throw .malformedToken(reason: "it has no \"iss\" (issuer) claim")
        }
        let normalizedIssuer = Issuer.normalized(issuer)
        guard let providers = providersByIssuer[normalizedIssuer] else { throw .unknownIssuer(issuer) }

        let keySet = try await keys.keySet(for: normalizedIssuer, keyID: token.keyID)
        try keySet.verifySignature(of: token, issuer: issuer)

        let audiences = try token.audiences()
        let expected = providers.map(\.applicationID)
        guard audiences.contains(where: expected.contains) else {
            throw .wrongAudience(audiences: audiences, expected: expected)
        }
        guard let expiresAt = try token.date("exp") else {
            throw .malformedToken(reason: "it has no \"exp\" (expiration) claim")
        }
        let current = now()
        let leeway = clockLeeway.timeInterval
        guard current < expiresAt.addingTimeInterval(leeway) else { throw .expired(at: expiresAt) }
        if let notBefore = try token.date("nbf"), current.addingTimeInterval(leeway) < notBefore {
            throw .notYetValid(until: notBefore)
        }
        guard let subject = try token.string("sub"), !subject.isEmpty else {
            throw .malformedToken(reason: "it has no \"sub\" (subject) claim")
        }
        return UserIdentity(claims: token.claims, subject: subject, issuer: issuer, expiresAt: expiresAt)
    }

    /// Throws `expired` once an identity verified earlier has run out, for the check before each
    /// mutation or action (the sync layer then sends `AuthError` with `authUpdateAttempted: false`).
    public func checkNotExpired(_ identity: UserIdentity) throws(AuthError) {
        let leeway = clockLeeway.timeInterval
        guard now() < identity.expiresAt.addingTimeInterval(leeway) else { throw .expired(at: identity.expiresAt) }
    }

    /// Whether `candidate` is the configured admin key (`tokenType: "Admin"`), compared in constant
    /// time. Always `false` when no admin key is configured.
    public func isAdminKey(_ candidate: String) -> Bool {
        adminKey?.matches(candidate) ?? false
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
