import Foundation
import RippleValues
import Testing

@testable import RippleAuth

/// Keys found through OIDC discovery: caching, refetch on an unknown `kid`, and its rate limit.
@Suite struct KeyRefetchTests {
    let signer: TestSigner
    let issuer: FakeIssuer
    let clock = ManualClock()
    let auth: Authenticator

    init() async throws {
        signer = try await TestSigner.es256(kid: "k1")
        issuer = FakeIssuer(jwks: jwksText([signer]))
        auth = try makeAuthenticator(keys: .discovery, fetcher: issuer, clock: clock)
    }

    /// A token signed with `signer` that is valid whenever the clock says.
    func token(_ signer: TestSigner) throws -> String {
        let now = Int64(clock.now().timeIntervalSince1970)
        return try signer.token(claims(["nbf": .int(now - 5), "exp": .int(now + 60)]))
    }

    @Test func keysAreDiscoveredOnceAndCached() async throws {
        #expect(issuer.requests.isEmpty)
        _ = try await auth.verify(userToken: token(signer))
        #expect(issuer.requests == [testIssuer + "/.well-known/openid-configuration", issuer.jwksURL])
        _ = try await auth.verify(userToken: token(signer))
        clock.advance(by: 600)
        _ = try await auth.verify(userToken: token(signer))
        #expect(issuer.jwksFetches == 1)
    }

    @Test func rotatedKeyIsPickedUpOnFirstSight() async throws {
        _ = try await auth.verify(userToken: token(signer))
        clock.advance(by: 3000)
        let next = try await TestSigner.es256(kid: "k2")
        issuer.publish(jwksText([signer, next]))
        _ = try await auth.verify(userToken: token(next))
        #expect(issuer.jwksFetches == 2)
        _ = try await auth.verify(userToken: token(signer))
        #expect(issuer.jwksFetches == 2)
    }

    @Test func unknownKidRefetchesAtMostOncePerInterval() async throws {
        _ = try await auth.verify(userToken: token(signer))
        clock.advance(by: 31)
        let stranger = try await TestSigner.es256(kid: "made-up")
        #expect(await refusal(auth, try token(stranger)) == .unknownKey(keyID: "made-up", issuer: testIssuer))
        #expect(issuer.jwksFetches == 2)
        for _ in 0..<5 {
            #expect(await refusal(auth, try token(stranger)) == .unknownKey(keyID: "made-up", issuer: testIssuer))
        }
        clock.advance(by: 29)
        #expect(await refusal(auth, try token(stranger)) == .unknownKey(keyID: "made-up", issuer: testIssuer))
        #expect(issuer.jwksFetches == 2)
        clock.advance(by: 1)
        #expect(await refusal(auth, try token(stranger)) == .unknownKey(keyID: "made-up", issuer: testIssuer))
        #expect(issuer.jwksFetches == 3)
        // Known keys keep working throughout, without fetches.
        _ = try await auth.verify(userToken: token(signer))
        #expect(issuer.jwksFetches == 3)
    }

    @Test func newKidRightAfterAFetchWaitsForTheInterval() async throws {
        _ = try await auth.verify(userToken: token(signer))
        let next = try await TestSigner.es256(kid: "k2")
        issuer.publish(jwksText([signer, next]))
        #expect(await refusal(auth, try token(next)) == .unknownKey(keyID: "k2", issuer: testIssuer))
        clock.advance(by: 30)
        #expect(await refusal(auth, try token(next)) == nil)
    }

    @Test func refetchIntervalIsConfigurable() async throws {
        let quick = try Authenticator(
            config: AuthConfig(providers: [AuthProvider(domain: testIssuer, applicationID: testAudience)]),
            keyRefetchInterval: .seconds(5),
            fetcher: issuer,
            now: clock.now
        )
        _ = try await quick.verify(userToken: token(signer))
        let stranger = try await TestSigner.es256(kid: "made-up")
        clock.advance(by: 5)
        _ = await refusal(quick, try token(stranger))
        _ = await refusal(quick, try token(stranger))
        #expect(issuer.jwksFetches == 2)
        clock.advance(by: 5)
        _ = await refusal(quick, try token(stranger))
        #expect(issuer.jwksFetches == 3)
    }

    @Test func oldKeysAreRefreshedAfterTheirLifetime() async throws {
        _ = try await auth.verify(userToken: token(signer))
        clock.advance(by: 3601)
        // The issuer withdrew k1: once the key set is refreshed, its tokens stop working.
        let next = try await TestSigner.es256(kid: "k2")
        issuer.publish(jwksText([next]))
        #expect(await refusal(auth, try token(signer)) == .unknownKey(keyID: "k1", issuer: testIssuer))
        #expect(issuer.jwksFetches == 2)
    }

    @Test func failedRefetchKeepsThePreviousKeys() async throws {
        _ = try await auth.verify(userToken: token(signer))
        clock.advance(by: 3601)
        issuer.setFailing(true)
        _ = try await auth.verify(userToken: token(signer))
        let stranger = try await TestSigner.es256(kid: "made-up")
        clock.advance(by: 31)
        #expect(await refusal(auth, try token(stranger)) == .unknownKey(keyID: "made-up", issuer: testIssuer))
    }

    @Test func unreachableIssuerIsReportedAndRetriedOnlyAfterTheInterval() async throws {
        issuer.setFailing(true)
        let error = await refusal(auth, try token(signer))
        guard case .keySetUnavailable(let named, let reason) = error else {
            Issue.record("expected keySetUnavailable, got \(String(describing: error))")
            return
        }
        #expect(named == testIssuer)
        #expect(reason.contains("connection refused"))
        // What a client reads names no address and no transport error: those are for the log.
        #expect(
            error?.description
                == "Could not verify token: could not load the signing keys of \"\(testIssuer)\" (the server's log says why); try again later.")
        #expect(error?.logDescription.hasSuffix("Reason: \(reason)") == true)
        let attempts = issuer.requests.count
        #expect(await refusal(auth, try token(signer)) == error)
        #expect(issuer.requests.count == attempts)

        issuer.setFailing(false)
        clock.advance(by: 30)
        #expect(await refusal(auth, try token(signer)) == nil)
    }

    @Test func concurrentColdVerificationsShareOneFetch() async throws {
        let token = try token(signer)
        try await withThrowingTaskGroup(of: UserIdentity.self) { group in
            for _ in 0..<8 {
                group.addTask { try await auth.verify(userToken: token) }
            }
            for try await identity in group { #expect(identity.subject == "user_123") }
        }
        #expect(issuer.jwksFetches == 1)
    }

    @Test func discoveryMustNameTheSameIssuer() async throws {
        issuer.overrideDiscovery(#"{"issuer":"https://impostor.example","jwks_uri":"\#(issuer.jwksURL)"}"#)
        guard case .keySetUnavailable(_, let reason) = await refusal(auth, try token(signer)) else {
            Issue.record("expected keySetUnavailable")
            return
        }
        #expect(reason.contains("different issuer"))
    }

    @Test func discoveryWithATrailingSlashIssuerIsTheSameIssuer() async throws {
        issuer.overrideDiscovery(#"{"issuer":"\#(testIssuer)/","jwks_uri":"\#(issuer.jwksURL)"}"#)
        #expect(await refusal(auth, try token(signer)) == nil)
    }

    @Test func jwksOverPlainHTTPIsRefused() async throws {
        issuer.overrideDiscovery(#"{"issuer":"\#(testIssuer)","jwks_uri":"http://issuer.example.test/jwks"}"#)
        guard case .keySetUnavailable(_, let reason) = await refusal(auth, try token(signer)) else {
            Issue.record("expected keySetUnavailable")
            return
        }
        #expect(reason.contains("plain http"))
        #expect(!issuer.requests.contains("http://issuer.example.test/jwks"))
    }

    @Test func discoveryWithoutJWKSURIIsReported() async throws {
        issuer.overrideDiscovery(#"{"issuer":"\#(testIssuer)"}"#)
        guard case .keySetUnavailable(_, let reason) = await refusal(auth, try token(signer)) else {
            Issue.record("expected keySetUnavailable")
            return
        }
        #expect(reason.contains("jwks_uri"))
    }

    @Test func garbageKeySetIsReported() async throws {
        issuer.publish("<html>not found</html>")
        guard case .keySetUnavailable(_, let reason) = await refusal(auth, try token(signer)) else {
            Issue.record("expected keySetUnavailable")
            return
        }
        #expect(reason.contains("not valid JSON"))
    }
}
