import Foundation
import JWTKit
import RippleValues

/// The asymmetric algorithms a token may be signed with. Symmetric `HS*` is left out on purpose: with
/// keys taken from a public JWKS it is the classic algorithm-confusion hole, and `none` is no signature.
let acceptedAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]

let acceptedAlgorithmList = acceptedAlgorithms.joined(separator: ", ")

/// An issuer's published signing keys (a JWKS), each ready to check signatures, found by `kid`.
///
/// Keys are immutable once built; a refetch builds a new `KeySet`. Private parts of a key (`d`, `p`,
/// `q`) are dropped on parsing, so a JWKS pasted with private material can only ever verify.
struct KeySet: Sendable {
    struct Key: Sendable {
        /// The JWK's own `alg`, when it names one; then it is the only algorithm the key verifies.
        let declaredAlgorithm: String?
        /// One verifier per algorithm the key may be used with.
        let verifiers: [String: any JWTAlgorithm]
    }

    /// Keys by `kid`. Keys published without a `kid` are stored under `#<position>`.
    let keys: [String: Key]

    func contains(keyID: String) -> Bool { keys[keyID] != nil }

    /// Checks the token's signature; claims are not looked at.
    func verifySignature(of token: UnverifiedToken, issuer: String) throws(AuthError) {
        guard let kid = token.keyID else {
            // No `kid`: any key of the issuer that supports the algorithm may have signed it.
            let candidates = keys.values.compactMap { $0.verifiers[token.algorithm] }
            guard candidates.contains(where: { Self.check($0, token) }) else { throw .badSignature }
            return
        }
        guard let key = keys[kid] else { throw .unknownKey(keyID: kid, issuer: issuer) }
        guard let verifier = key.verifiers[token.algorithm] else {
            let published = key.declaredAlgorithm ?? key.verifiers.keys.sorted().joined(separator: "/")
            throw .keyAlgorithmMismatch(keyID: kid, keyAlgorithm: published, tokenAlgorithm: token.algorithm)
        }
        guard Self.check(verifier, token) else { throw .badSignature }
    }

    private static func check(_ verifier: any JWTAlgorithm, _ token: UnverifiedToken) -> Bool {
        (try? verifier.verify(token.signature, signs: token.signingInput)) ?? false
    }
}

// MARK: - Parsing and building

extension KeySet {
    /// Why a JWKS document could not be used.
    struct ParseError: Error, Sendable {
        let reason: String
    }

    /// Reads a JWKS document into public JWKs, skipping keys that are not for signatures or are of a
    /// type jwt-kit does not know; it fails only when nothing usable is left.
    static func parse(_ document: [UInt8]) throws(ParseError) -> [JWK] {
        guard let json = try? JSON.parse(document) else { throw ParseError(reason: "the key set is not valid JSON") }
        guard let items = json["keys"]?.arrayValue else { throw ParseError(reason: "the key set has no \"keys\" array") }
        var jwks: [JWK] = []
        for (position, item) in items.enumerated() {
            if let use = item["use"]?.stringValue, use != "sig" { continue }
            guard var jwk = try? JWK(json: item.serialized()) else { continue }
            if let alg = jwk.algorithm?.rawValue, !acceptedAlgorithms.contains(alg) { continue }
            jwk.privateExponent = nil
            jwk.prime1 = nil
            jwk.prime2 = nil
            if jwk.keyIdentifier == nil { jwk.keyIdentifier = JWKIdentifier(string: "#\(position)") }
            jwks.append(jwk)
        }
        guard !jwks.isEmpty else {
            throw ParseError(reason: "the key set has no usable signing key (RSA, EC or OKP, for \(acceptedAlgorithmList))")
        }
        return jwks
    }

    /// Builds verifiers for every algorithm each key may serve. Keys jwt-kit cannot load (a short RSA
    /// modulus, a point off the curve) are left out.
    static func build(_ jwks: [JWK]) async throws(ParseError) -> KeySet {
        var keys: [String: Key] = [:]
        for jwk in jwks {
            guard let kid = jwk.keyIdentifier else { continue }
            let declared = jwk.algorithm?.rawValue
            var verifiers: [String: any JWTAlgorithm] = [:]
            for alg in declared.map({ [$0] }) ?? candidateAlgorithms(for: jwk) {
                guard let algorithm = JWK.Algorithm(rawValue: alg) else { continue }
                var pinned = jwk
                pinned.algorithm = algorithm
                // jwt-kit only turns a JWK into a verifier through a key collection.
                let collection = JWTKeyCollection()
                guard (try? await collection.add(jwk: pinned)) != nil,
                    let verifier = try? await collection.getKey(for: kid, alg: alg),
                    verifier.name == alg
                else { continue }
                verifiers[alg] = verifier
            }
            if !verifiers.isEmpty { keys[kid.string] = Key(declaredAlgorithm: declared, verifiers: verifiers) }
        }
        guard !keys.isEmpty else {
            throw ParseError(reason: "none of the keys in the key set could be loaded (RSA keys need at least 2048 bits)")
        }
        return KeySet(keys: keys)
    }

    /// Reads and builds in one step.
    static func load(_ document: [UInt8]) async throws(ParseError) -> KeySet {
        try await build(parse(document))
    }

    private static func candidateAlgorithms(for jwk: JWK) -> [String] {
        switch jwk.keyType {
        case .rsa: return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case .ecdsa:
            switch jwk.curve?.rawValue {
            case "P-256": return ["ES256"]
            case "P-384": return ["ES384"]
            case "P-521": return ["ES512"]
            default: return []
            }
        case .octetKeyPair: return ["EdDSA"]
        default: return []
        }
    }
}
