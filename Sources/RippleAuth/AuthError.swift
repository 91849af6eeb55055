import Foundation

/// Why a user token was refused.
///
/// `description` is sent to clients in the sync protocol's `AuthError` message, so every case reads
/// as a sentence for the app developer and none ever contains the token itself. Values taken from the
/// token (issuer, key id, audiences) are shortened before they are quoted.
public enum AuthError: Error, Sendable, Equatable {
    /// The text is not a compact JWS (`header.payload.signature`) with JSON header and claims.
    case malformedToken(reason: String)
    /// The header's `alg` is `none`, symmetric (`HS256`, …) or otherwise not accepted.
    case unsupportedAlgorithm(String)
    /// The key named by `kid` is published for a different algorithm than the token's `alg`.
    case keyAlgorithmMismatch(keyID: String, keyAlgorithm: String, tokenAlgorithm: String)
    /// No configured provider has this `iss` as its domain.
    case unknownIssuer(String)
    /// The provider exists, but `aud` names none of its application IDs.
    case wrongAudience(audiences: [String], expected: [String])
    /// `exp` (plus leeway) is in the past.
    case expired(at: Date)
    /// `nbf` (minus leeway) is in the future.
    case notYetValid(until: Date)
    /// The issuer publishes no key with this `kid`, even after a refetch of its key set.
    case unknownKey(keyID: String, issuer: String)
    /// The signature does not match the header and claims under the issuer's key.
    case badSignature
    /// The issuer's OpenID configuration or key set could not be fetched or understood. `reason`
    /// (addresses, transport errors) is for the operator's log only, never sent to clients.
    case keySetUnavailable(issuer: String, reason: String)
}

extension AuthError: CustomStringConvertible {
    /// A human-readable sentence, safe to send to clients.
    public var description: String {
        "Could not verify token: " + detail
    }

    /// The description plus what only the operator may see (why a key set could not be loaded).
    public var logDescription: String {
        guard case .keySetUnavailable(_, let reason) = self else { return description }
        return description + " Reason: " + reason
    }

    private var detail: String {
        switch self {
        case .malformedToken(let reason):
            return "the token is not a valid JWT (\(reason))."
        case .unsupportedAlgorithm(let alg):
            if alg == "none" { return "unsigned tokens (alg \"none\") are not accepted." }
            return "the signing algorithm \(quoted(alg)) is not accepted; use one of \(acceptedAlgorithmList)."
        case .keyAlgorithmMismatch(let kid, let keyAlg, let tokenAlg):
            return "the key \(quoted(kid)) is published for \(quoted(keyAlg)) but the token is signed with \(quoted(tokenAlg))."
        case .unknownIssuer(let iss):
            return "no auth provider is configured for the issuer \(quoted(iss)); check the provider's domain in the auth config."
        case .wrongAudience(let audiences, let expected):
            let got = audiences.isEmpty ? "no audience" : "audience " + audiences.prefix(5).map(quoted).joined(separator: ", ")
            let want = expected.map(quoted).joined(separator: " or ")
            return "the token has \(got), but the auth config expects the application ID \(want)."
        case .expired(let date):
            return "the token expired at \(rfc3339(date))."
        case .notYetValid(let date):
            return "the token is not valid before \(rfc3339(date))."
        case .unknownKey(let kid, let issuer):
            return "the issuer \(quoted(issuer)) publishes no key with id \(quoted(kid))."
        case .badSignature:
            return "the token's signature is invalid."
        case .keySetUnavailable(let issuer, let reason):
            return "could not load the signing keys of \(quoted(issuer)) (the server's log says why); try again later."
        }
    }
}

/// Quotes a value taken from a token, cut short so a hostile token cannot flood a message.
func quoted(_ text: String) -> String {
    let limit = 120
    let shown = text.count > limit ? String(text.prefix(limit)) + "…" : text
    return "\"" + shown + "\""
}

/// `2026-01-31T12:00:00Z`, the form used in messages.
func rfc3339(_ date: Date) -> String {
    date.formatted(.iso8601)
}
