import Foundation
import RippleValues

/// Fetches one document over HTTP: the seam between key discovery and the network, so the discovery
/// rules are tested without sockets.
public protocol DocumentFetcher: Sendable {
    /// The body of a `200 OK` response to `GET url`; throws on anything else.
    func fetch(_ url: URL) async throws -> [UInt8]
}

/// Where an issuer's keys come from once the issuer is known: OIDC discovery then the JWKS.
///
/// `GET {issuer}/.well-known/openid-configuration` names `jwks_uri`; `GET jwks_uri` is the key set.
/// Both URLs must pass `TransportRule`, and the discovery document must name the same issuer.
struct OIDCKeyDiscovery: Sendable {
    let fetcher: any DocumentFetcher

    /// Loads the issuer's current key set; every failure becomes `AuthError.keySetUnavailable`.
    func loadKeySet(issuer: String) async throws(AuthError) -> KeySet {
        func fail(_ reason: String) -> AuthError { .keySetUnavailable(issuer: issuer, reason: reason) }

        let base = Issuer.normalized(issuer)
        guard let discoveryURL = URL(string: base + "/.well-known/openid-configuration") else {
            throw fail("the issuer is not a URL")
        }
        if let refusal = TransportRule.refusal(for: discoveryURL) { throw fail(refusal) }
        let discoveryBody: [UInt8]
        do {
            discoveryBody = try await fetcher.fetch(discoveryURL)
        } catch {
            throw fail("fetching \(discoveryURL.absoluteString) failed: \(error)")
        }
        guard let discovery = try? JSON.parse(discoveryBody), case .object = discovery else {
            throw fail("\(discoveryURL.absoluteString) is not a JSON object")
        }
        if let named = discovery["issuer"]?.stringValue, !Issuer.matches(named, issuer) {
            throw fail("the OpenID configuration names a different issuer, \(quoted(named))")
        }
        guard let jwksText = discovery["jwks_uri"]?.stringValue, let jwksURL = URL(string: jwksText) else {
            throw fail("the OpenID configuration has no \"jwks_uri\"")
        }
        if let refusal = TransportRule.refusal(for: jwksURL) { throw fail(refusal) }
        let jwksBody: [UInt8]
        do {
            jwksBody = try await fetcher.fetch(jwksURL)
        } catch {
            throw fail("fetching \(jwksURL.absoluteString) failed: \(error)")
        }
        do {
            return try await KeySet.load(jwksBody)
        } catch {
            throw fail(error.reason)
        }
    }
}

/// Issuer strings as providers write them: `https://x.clerk.accounts.dev` and
/// `https://x.clerk.accounts.dev/` are the same issuer.
enum Issuer {
    static func normalized(_ issuer: String) -> String {
        var text = issuer
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    static func matches(_ a: String, _ b: String) -> Bool {
        normalized(a) == normalized(b)
    }
}
