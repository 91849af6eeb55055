import Foundation
import JWTKit
import RippleAuth
import RippleClient
import RippleNodeTestSupport
import RippleValues
import Testing

/// The client's token handling against a node that verifies tokens of one test issuer.
@Suite(.serialized, .timeLimit(.minutes(1))) struct AuthTests {
    static let issuer = "https://issuer.example.test"

    /// Signs ES256 user tokens for `subject` that expire `lifetime` seconds from now.
    struct Issuer {
        let authenticator: Authenticator
        let key: ES256PrivateKey

        static func make() throws -> Issuer {
            let key = ES256PrivateKey()
            let (x, y) = key.publicKey.parameters!
            let jwks = #"{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","alg":"ES256","x":"\#(x)","y":"\#(y)"}]}"#
            let provider = AuthProvider(domain: AuthTests.issuer, applicationID: "convex", keys: .jwks(jwks))
            return Issuer(authenticator: try Authenticator(config: AuthConfig(providers: [provider]), clockLeeway: .zero), key: key)
        }

        func token(subject: String, lifetime: Int64) async throws -> String {
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: key, kid: JWKIdentifier(string: "k1"))
            let claims = Claims(
                iss: IssuerClaim(value: AuthTests.issuer), sub: SubjectClaim(value: subject), aud: AudienceClaim(value: "convex"),
                exp: ExpirationClaim(value: Date(timeIntervalSince1970: Double(Int64(Date().timeIntervalSince1970) + lifetime))))
            return try await keys.sign(claims, kid: JWKIdentifier(string: "k1"))
        }
    }

    struct Claims: JWTPayload {
        var iss: IssuerClaim
        var sub: SubjectClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// What the fetcher was asked, in order (`true`: a fresh token was demanded).
    actor FetchLog {
        var requests: [Bool] = []
        private var waiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

        func record(_ forceRefresh: Bool) {
            requests.append(forceRefresh)
            waiters.removeAll { waiter in
                guard requests.count >= waiter.count else { return false }
                waiter.continuation.resume()
                return true
            }
        }

        func waitForRequests(_ count: Int) async {
            if requests.count >= count { return }
            await withCheckedContinuation { waiters.append((count: count, continuation: $0)) }
        }
    }

    @Test func aRefusedTokenIsReplacedByAFreshOne() async throws {
        let issuer = try Issuer.make()
        let node = try await TestNode.start(authenticator: issuer.authenticator)
        let client = try RippleClient(url: "http://127.0.0.1:\(node.port)")
        let log = FetchLog()
        await client.setAuth { forceRefresh in
            await log.record(forceRefresh)
            // The cached token has already expired; only a fresh one is valid.
            return try await issuer.token(subject: "user_1", lifetime: forceRefresh ? 60 : -60)
        }

        var callers = client.subscribe(Notes.whoami, NoArguments()).makeAsyncIterator()
        var caller = try await callers.next()
        while caller == nil { caller = try await callers.next() }

        #expect(caller == Caller(subject: "user_1"))
        #expect(await log.requests == [false, true])
        await client.close()
        await node.stop()
    }

    @Test func aTokenIsRefreshedBeforeItExpires() async throws {
        let issuer = try Issuer.make()
        let node = try await TestNode.start(authenticator: issuer.authenticator)
        var configuration = RippleClient.Configuration()
        // Refresh 10 s before the first token's end: the first answer must come before the
        // refresh, which under the full suite's load can take seconds.
        configuration.tokenRefreshLeeway = .seconds(10)
        let client = try RippleClient(url: "http://127.0.0.1:\(node.port)", configuration: configuration)
        let log = FetchLog()
        await client.setAuth { forceRefresh in
            await log.record(forceRefresh)
            // The first token is due for refresh 10 s from now (20 s less the 10 s leeway).
            return try await issuer.token(subject: forceRefresh ? "user_2" : "user_1", lifetime: forceRefresh ? 60 : 20)
        }
        var callers = client.subscribe(Notes.whoami, NoArguments()).makeAsyncIterator()
        #expect(try await callers.next() == Caller(subject: "user_1"))

        await log.waitForRequests(2)

        // The session moves from one user to the other without ever being anonymous.
        #expect(try await callers.next() == Caller(subject: "user_2"))
        #expect(await log.requests == [false, true])
        await client.close()
        await node.stop()
    }
}
