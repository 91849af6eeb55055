import CryptoExtras
import Foundation
import JWTKit
import RippleValues
import Synchronization

@testable import RippleAuth

let testIssuer = "https://issuer.example.test"
let testAudience = "convex"
/// 2027-01-15T08:00:00Z, the fixed "now" of every test clock.
let testNow = Date(timeIntervalSince1970: 1_800_000_000)

/// RSA key generation takes a moment, so all tests share one key.
let sharedRSAKey: JWTKit.Insecure.RSA.PrivateKey = {
    try! JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
}()

/// A private key that signs test tokens, with its public JWK.
struct TestSigner: Sendable {
    let kid: String
    let algorithm: String
    let signer: any JWTAlgorithm
    let publicJWK: JSON

    static func rsa(kid: String = "rsa-1", algorithm: String = "RS256", declareAlgorithm: Bool = true) async throws -> TestSigner {
        let keys = JWTKeyCollection()
        let digest: DigestAlgorithm =
            switch algorithm.suffix(3) {
            case "384": .sha384
            case "512": .sha512
            default: .sha256
            }
        if algorithm.hasPrefix("PS") {
            await keys.add(pss: sharedRSAKey, digestAlgorithm: digest, kid: JWKIdentifier(string: kid))
        } else {
            await keys.add(rsa: sharedRSAKey, digestAlgorithm: digest, kid: JWKIdentifier(string: kid))
        }
        let (n, e) = try sharedRSAKey.publicKey.getKeyPrimitives()
        var jwk: [(String, JSON)] = [
            ("kty", .string("RSA")), ("kid", .string(kid)), ("use", .string("sig")),
            ("n", .string(base64URLEncode(n))), ("e", .string(base64URLEncode(e))),
        ]
        if declareAlgorithm { jwk.append(("alg", .string(algorithm))) }
        return TestSigner(kid: kid, algorithm: algorithm, signer: try await keys.getKey(for: JWKIdentifier(string: kid)), publicJWK: .object(jwk))
    }

    static func es256(kid: String = "ec-1") async throws -> TestSigner {
        let key = ES256PrivateKey()
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        let (x, y) = key.publicKey.parameters!
        let jwk: JSON = .object([
            ("kty", .string("EC")), ("kid", .string(kid)), ("crv", .string("P-256")), ("alg", .string("ES256")),
            ("x", .string(x)), ("y", .string(y)),
        ])
        return TestSigner(kid: kid, algorithm: "ES256", signer: try await keys.getKey(for: JWKIdentifier(string: kid)), publicJWK: jwk)
    }

    /// A signed compact JWS. `header` entries replace or add to `alg`/`kid`/`typ`.
    func token(_ claims: [String: JSON], header: [String: JSON?] = [:]) throws -> String {
        var fields: [String: JSON] = ["alg": .string(algorithm), "kid": .string(kid), "typ": .string("JWT")]
        for (name, value) in header { fields[name] = value }
        let signingInput = encodeSegment(fields) + "." + encodeSegment(claims)
        let signature = try signer.sign(Array(signingInput.utf8))
        return signingInput + "." + base64URLEncode(signature)
    }
}

func encodeSegment(_ fields: [String: JSON]) -> String {
    base64URLEncode(JSON.object(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }).serializedBytes())
}

/// The usual claims of a valid token at `testNow`; override or remove (`nil`) as needed.
func claims(_ overrides: [String: JSON?] = [:]) -> [String: JSON] {
    let now = Int64(testNow.timeIntervalSince1970)
    var fields: [String: JSON] = [
        "iss": .string(testIssuer), "sub": .string("user_123"), "aud": .string(testAudience),
        "iat": .int(now - 10), "nbf": .int(now - 10), "exp": .int(now + 60),
    ]
    for (name, value) in overrides { fields[name] = value }
    return fields
}

func jwksText(_ signers: [TestSigner], extra: [JSON] = []) -> String {
    JSON.object([("keys", .array(signers.map(\.publicJWK) + extra))]).serialized()
}

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let current = Mutex(testNow)

    var now: @Sendable () -> Date { { self.current.withLock { $0 } } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// An issuer served from memory: discovery at `{issuer}/.well-known/openid-configuration`, JWKS at
/// `{issuer}/jwks`. Records every request.
final class FakeIssuer: DocumentFetcher {
    struct State {
        var jwks: String
        var requests: [String] = []
        var failing = false
        var discoveryOverride: String?
    }

    let issuer: String
    private let state: Mutex<State>

    init(issuer: String = testIssuer, jwks: String) {
        self.issuer = issuer
        self.state = Mutex(State(jwks: jwks))
    }

    var jwksURL: String { Issuer.normalized(issuer) + "/jwks" }
    var requests: [String] { state.withLock { $0.requests } }
    var jwksFetches: Int { requests.filter { $0 == jwksURL }.count }

    func publish(_ jwks: String) { state.withLock { $0.jwks = jwks } }
    func setFailing(_ failing: Bool) { state.withLock { $0.failing = failing } }
    func overrideDiscovery(_ document: String) { state.withLock { $0.discoveryOverride = document } }

    struct Unavailable: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    func fetch(_ url: URL) async throws -> [UInt8] {
        let base = Issuer.normalized(issuer)
        let snapshot = state.withLock { state in
            state.requests.append(url.absoluteString)
            return state
        }
        if snapshot.failing { throw Unavailable() }
        switch url.absoluteString {
        case base + "/.well-known/openid-configuration":
            let document =
                snapshot.discoveryOverride
                ?? JSON.object([("issuer", .string(issuer)), ("jwks_uri", .string(jwksURL))]).serialized()
            return Array(document.utf8)
        case jwksURL:
            return Array(snapshot.jwks.utf8)
        default:
            throw Unavailable()
        }
    }
}

/// An authenticator for `testIssuer` with the given key source.
func makeAuthenticator(
    keys: KeySource,
    fetcher: any DocumentFetcher = FakeIssuer(jwks: #"{"keys":[]}"#),
    clock: ManualClock = ManualClock(),
    leeway: Duration = .seconds(10),
    applicationID: String = testAudience,
    adminKey: String? = nil
) throws -> Authenticator {
    try Authenticator(
        config: AuthConfig(
            providers: [AuthProvider(domain: testIssuer, applicationID: applicationID, keys: keys)],
            adminKey: adminKey
        ),
        clockLeeway: leeway,
        fetcher: fetcher,
        now: clock.now
    )
}

/// The `AuthError` a verification throws, or `nil` when it succeeds.
func refusal(_ authenticator: Authenticator, _ token: String) async -> AuthError? {
    do {
        _ = try await authenticator.verify(userToken: token)
        return nil
    } catch {
        return error
    }
}
