import Foundation
import RippleValues
import Testing

@testable import RippleAuth

@Suite struct RefusalTests {
    let signer: TestSigner
    let auth: Authenticator

    init() async throws {
        signer = try await TestSigner.es256()
        auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
    }

    @Test func expiredTokenIsRefusedWithTheExpiryTime() async throws {
        let token = try signer.token(claims(["exp": .int(Int64(testNow.timeIntervalSince1970) - 11)]))
        let error = await refusal(auth, token)
        #expect(error == .expired(at: testNow.addingTimeInterval(-11)))
        #expect(error?.description == "Could not verify token: the token expired at 2027-01-15T07:59:49Z.")
    }

    @Test func leewayCoversASlightlyLateToken() async throws {
        let token = try signer.token(claims(["exp": .int(Int64(testNow.timeIntervalSince1970) - 9)]))
        #expect(await refusal(auth, token) == nil)
    }

    @Test func withoutLeewayExpiryIsExact() async throws {
        let strict = try makeAuthenticator(keys: .jwks(jwksText([signer])), leeway: .zero)
        let atNow = try signer.token(claims(["exp": .int(Int64(testNow.timeIntervalSince1970))]))
        #expect(await refusal(strict, atNow) == .expired(at: testNow))
        let justAfter = try signer.token(claims(["exp": .int(Int64(testNow.timeIntervalSince1970) + 1)]))
        #expect(await refusal(strict, justAfter) == nil)
    }

    @Test func notYetValidTokenIsRefused() async throws {
        let nbf = testNow.addingTimeInterval(30)
        let token = try signer.token(claims(["nbf": .int(Int64(nbf.timeIntervalSince1970)), "exp": .int(Int64(testNow.timeIntervalSince1970) + 90)]))
        let error = await refusal(auth, token)
        #expect(error == .notYetValid(until: nbf))
        #expect(error?.description == "Could not verify token: the token is not valid before 2027-01-15T08:00:30Z.")
        let withinLeeway = try signer.token(claims(["nbf": .int(Int64(testNow.timeIntervalSince1970) + 5)]))
        #expect(await refusal(auth, withinLeeway) == nil)
    }

    @Test func unknownIssuerIsRefused() async throws {
        let token = try signer.token(claims(["iss": .string("https://evil.example")]))
        let error = await refusal(auth, token)
        #expect(error == .unknownIssuer("https://evil.example"))
        #expect(error?.description.contains("no auth provider is configured for the issuer \"https://evil.example\"") == true)
    }

    @Test func wrongAudienceIsRefused() async throws {
        let token = try signer.token(claims(["aud": .array([.string("someone-else")])]))
        let error = await refusal(auth, token)
        #expect(error == .wrongAudience(audiences: ["someone-else"], expected: [testAudience]))
        #expect(
            error?.description
                == "Could not verify token: the token has audience \"someone-else\", but the auth config expects the application ID \"convex\"."
        )
        #expect(await refusal(auth, try signer.token(claims(["aud": nil]))) == .wrongAudience(audiences: [], expected: [testAudience]))
    }

    @Test func tamperedClaimsBreakTheSignature() async throws {
        let token = try signer.token(claims())
        let parts = token.split(separator: ".").map(String.init)
        let forged = parts[0] + "." + encodeSegment(claims(["sub": .string("admin")])) + "." + parts[2]
        let error = await refusal(auth, forged)
        #expect(error == .badSignature)
        #expect(error?.description == "Could not verify token: the token's signature is invalid.")
    }

    @Test func anotherKeyUnderTheSameKidIsABadSignature() async throws {
        let impostor = try await TestSigner.es256(kid: signer.kid)
        #expect(await refusal(auth, try impostor.token(claims())) == .badSignature)
    }

    @Test func unsignedTokenIsRefused() async throws {
        let unsigned = encodeSegment(["alg": .string("none"), "typ": .string("JWT")]) + "." + encodeSegment(claims()) + "."
        let error = await refusal(auth, unsigned)
        #expect(error == .unsupportedAlgorithm("none"))
        #expect(error?.description == "Could not verify token: unsigned tokens (alg \"none\") are not accepted.")
    }

    @Test(arguments: ["HS256", "none", "NONE", "ES256K", ""])
    func algorithmsOutsideTheAcceptedListAreRefused(alg: String) async throws {
        let token = try signer.token(claims(), header: ["alg": .string(alg)])
        #expect(await refusal(auth, token) == .unsupportedAlgorithm(alg))
    }

    @Test func algorithmMustFitTheKey() async throws {
        let token = try signer.token(claims(), header: ["alg": .string("RS256")])
        let error = await refusal(auth, token)
        #expect(error == .keyAlgorithmMismatch(keyID: signer.kid, keyAlgorithm: "ES256", tokenAlgorithm: "RS256"))
    }

    @Test func unknownKidIsRefused() async throws {
        let stranger = try await TestSigner.es256(kid: "rotated-away")
        let error = await refusal(auth, try stranger.token(claims()))
        #expect(error == .unknownKey(keyID: "rotated-away", issuer: testIssuer))
        #expect(error?.description == "Could not verify token: the issuer \"\(testIssuer)\" publishes no key with id \"rotated-away\".")
    }

    @Test func malformedTokensAreRefused() async throws {
        let header = encodeSegment(["alg": .string("ES256"), "kid": .string(signer.kid)])
        let body = encodeSegment(claims())
        let cases: [String] = [
            "", "not-a-jwt", "a.b", "a.b.c.d", "a.b.c.d.e",
            "!!!." + body + ".AAAA",
            base64URLEncode(Array("[1]".utf8)) + "." + body + ".AAAA",
            header + "." + base64URLEncode(Array("not json".utf8)) + ".AAAA",
            header + "." + body + ".***",
            String(repeating: "a", count: 70_000),
        ]
        for token in cases {
            guard case .malformedToken = await refusal(auth, token) else {
                Issue.record("expected malformedToken for \(token.prefix(40))")
                continue
            }
        }
    }

    @Test(arguments: ["exp", "sub", "iss"])
    func requiredClaimsMustBePresent(claim: String) async throws {
        let token = try signer.token(claims([claim: nil]))
        guard case .malformedToken(let reason) = await refusal(auth, token) else {
            Issue.record("expected malformedToken")
            return
        }
        #expect(reason.contains("\"\(claim)\""))
    }

    @Test func claimsOfTheWrongTypeAreRefused() async throws {
        for bad: [String: JSON?] in [["exp": .string("tomorrow")], ["aud": .int(3)], ["iss": .int(1)], ["sub": .bool(true)]] {
            guard case .malformedToken = await refusal(auth, try signer.token(claims(bad))) else {
                Issue.record("expected malformedToken for \(bad)")
                continue
            }
        }
    }

    @Test func criticalHeaderExtensionsAreRefused() async throws {
        let token = try signer.token(claims(), header: ["crit": .array([.string("b64")])])
        guard case .malformedToken = await refusal(auth, token) else {
            Issue.record("expected malformedToken")
            return
        }
    }

    @Test func messagesNeverQuoteTheToken() async throws {
        let stranger = try await TestSigner.es256(kid: "k")
        let tokens = [
            try signer.token(claims(["exp": .int(0)])),
            try signer.token(claims(["iss": .string("https://other.example")])),
            try stranger.token(claims()),
            try signer.token(claims(), header: ["alg": .string("HS256")]),
        ]
        for token in tokens {
            let message = await refusal(auth, token)?.description ?? ""
            #expect(message.hasPrefix("Could not verify token: "))
            for part in token.split(separator: ".") where part.count > 8 {
                #expect(!message.contains(part))
            }
        }
    }

    @Test func hostileValuesAreShortenedInMessages() async throws {
        let longIssuer = "https://" + String(repeating: "x", count: 5000)
        let message = await refusal(auth, try signer.token(claims(["iss": .string(longIssuer)])))?.description ?? ""
        #expect(message.count < 400)
    }
}
