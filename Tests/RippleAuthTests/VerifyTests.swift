import Foundation
import RippleValues
import Testing

@testable import RippleAuth

@Suite struct VerifyTests {
    @Test func rs256TokenVerifiesAgainstStaticJWKS() async throws {
        let signer = try await TestSigner.rsa()
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let identity = try await auth.verify(userToken: signer.token(claims()))
        #expect(identity.subject == "user_123")
        #expect(identity.issuer == testIssuer)
        #expect(identity.tokenIdentifier == "\(testIssuer)|user_123")
        #expect(identity.expiresAt == testNow.addingTimeInterval(60))
    }

    @Test func es256TokenVerifies() async throws {
        let signer = try await TestSigner.es256()
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let identity = try await auth.verify(userToken: signer.token(claims()))
        #expect(identity.subject == "user_123")
    }

    @Test(arguments: ["RS256", "RS384", "RS512", "PS256", "PS512"])
    func rsaKeyWithoutDeclaredAlgorithmServesEveryRSAAlgorithm(algorithm: String) async throws {
        let signer = try await TestSigner.rsa(algorithm: algorithm, declareAlgorithm: false)
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let identity = try await auth.verify(userToken: signer.token(claims()))
        #expect(identity.subject == "user_123")
    }

    @Test func audienceMayBeAnArray() async throws {
        let signer = try await TestSigner.es256()
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let token = try signer.token(claims(["aud": .array([.string("other"), .string(testAudience)])]))
        #expect(try await auth.verify(userToken: token).subject == "user_123")
    }

    @Test func trailingSlashOnEitherSideOfTheIssuerIsTolerated() async throws {
        let signer = try await TestSigner.es256()
        let withSlash = try Authenticator(
            config: AuthConfig(providers: [
                AuthProvider(domain: testIssuer + "/", applicationID: testAudience, keys: .jwks(jwksText([signer])))
            ]),
            now: { testNow }
        )
        #expect(try await withSlash.verify(userToken: signer.token(claims())).issuer == testIssuer)

        let plain = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let identity = try await plain.verify(userToken: signer.token(claims(["iss": .string(testIssuer + "/")])))
        // The identity keeps the issuer as the token wrote it, as Convex does.
        #expect(identity.issuer == testIssuer + "/")
        #expect(identity.tokenIdentifier == testIssuer + "/|user_123")
    }

    @Test func providersSharingADomainAcceptEachApplicationID() async throws {
        let signer = try await TestSigner.es256()
        let jwks = KeySource.jwks(jwksText([signer]))
        let auth = try Authenticator(
            config: AuthConfig(providers: [
                AuthProvider(domain: testIssuer, applicationID: "web", keys: jwks),
                AuthProvider(domain: testIssuer, applicationID: "mobile", keys: jwks),
            ]),
            now: { testNow }
        )
        for audience in ["web", "mobile"] {
            #expect(try await auth.verify(userToken: signer.token(claims(["aud": .string(audience)]))).subject == "user_123")
        }
    }

    @Test func tokenWithoutKidIsCheckedAgainstEveryKey() async throws {
        let first = try await TestSigner.es256(kid: "a")
        let second = try await TestSigner.es256(kid: "b")
        let auth = try makeAuthenticator(keys: .jwks(jwksText([first, second])))
        let token = try second.token(claims(), header: ["kid": nil])
        #expect(try await auth.verify(userToken: token).subject == "user_123")
    }

    @Test func unusableKeysInTheSetAreSkipped() async throws {
        let signer = try await TestSigner.es256()
        let extra: [JSON] = [
            .object([("kty", .string("oct")), ("kid", .string("hmac")), ("k", .string("c2VjcmV0"))]),
            .object([("kty", .string("RSA")), ("kid", .string("enc")), ("use", .string("enc")), ("n", .string("AQAB")), ("e", .string("AQAB"))]),
        ]
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer], extra: extra)))
        #expect(try await auth.verify(userToken: signer.token(claims())).subject == "user_123")
    }

    @Test func standardClaimsGetConvexNames() async throws {
        let signer = try await TestSigner.es256()
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let token = try signer.token(
            claims([
                "name": .string("Ada Lovelace"), "given_name": .string("Ada"), "family_name": .string("Lovelace"),
                "nickname": .string("ada"), "preferred_username": .string("countess"),
                "profile": .string("https://example.com/ada"), "picture": .string("https://img.example.com/ada.png"),
                "website": .string("https://ada.example"), "email": .string("ada@example.com"), "email_verified": .bool(true),
                "gender": .string("female"), "birthdate": .string("1815-12-10"), "zoneinfo": .string("Europe/London"),
                "locale": .string("en-GB"), "phone_number": .string("+44 20 0000 0000"),
                "phone_number_verified": .string("false"),
                "address": .object([("formatted", .string("St James's Square, London"))]),
                "updated_at": .int(1_700_000_000),
            ])
        )
        let identity = try await auth.verify(userToken: token)
        #expect(identity.name == "Ada Lovelace")
        #expect(identity.givenName == "Ada")
        #expect(identity.familyName == "Lovelace")
        #expect(identity.nickname == "ada")
        #expect(identity.preferredUsername == "countess")
        #expect(identity.profileUrl == "https://example.com/ada")
        #expect(identity.pictureUrl == "https://img.example.com/ada.png")
        #expect(identity.websiteUrl == "https://ada.example")
        #expect(identity.email == "ada@example.com")
        #expect(identity.emailVerified == true)
        #expect(identity.gender == "female")
        #expect(identity.birthday == "1815-12-10")
        #expect(identity.timezone == "Europe/London")
        #expect(identity.language == "en-GB")
        #expect(identity.phoneNumber == "+44 20 0000 0000")
        #expect(identity.phoneNumberVerified == false)
        #expect(identity.address == "St James's Square, London")
        #expect(identity.updatedAt == "2023-11-14T22:13:20+00:00")
        #expect(identity.customClaims.isEmpty)
    }

    @Test func otherClaimsBecomeCustomClaims() async throws {
        let signer = try await TestSigner.es256()
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let token = try signer.token(
            claims([
                "org_id": .string("org_9"), "roles": .array([.string("admin"), .string("editor")]),
                "seats": .int(3), "meta": .object([("plan", .string("pro")), ("$bad", .bool(true))]),
                "azp": .string("https://app.example"),
            ])
        )
        let identity = try await auth.verify(userToken: token)
        #expect(identity.customClaims["org_id"] == .string("org_9"))
        #expect(identity.customClaims["roles"] == .array(["admin", "editor"]))
        #expect(identity.customClaims["seats"] == .float64(3))
        #expect(identity.customClaims["azp"] == .string("https://app.example"))
        for registered in ["iss", "sub", "aud", "exp", "nbf", "iat"] {
            #expect(identity.customClaims[registered] == nil)
        }
        // In the Convex object, names Convex cannot store are dropped.
        #expect(identity.asValue["meta"] == .object(["plan": "pro"]))
    }

    @Test func asValueUsesConvexFieldNames() async throws {
        let signer = try await TestSigner.es256()
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])))
        let token = try signer.token(
            claims([
                "email": .string("ada@example.com"), "picture": .string("https://img.example.com/a.png"),
                "email_verified": .bool(true), "team": .string("blue"),
            ])
        )
        let value = try await auth.verify(userToken: token).asValue
        #expect(
            value
                == .object([
                    "subject": "user_123", "issuer": .string(testIssuer), "tokenIdentifier": .string("\(testIssuer)|user_123"),
                    "email": "ada@example.com", "pictureUrl": "https://img.example.com/a.png", "emailVerified": true,
                    "team": "blue",
                ])
        )
    }

    @Test func expiryIsRecheckedForAnEstablishedIdentity() async throws {
        let signer = try await TestSigner.es256()
        let clock = ManualClock()
        let auth = try makeAuthenticator(keys: .jwks(jwksText([signer])), clock: clock)
        let identity = try await auth.verify(userToken: signer.token(claims()))
        try auth.checkNotExpired(identity)
        clock.advance(by: 70)
        #expect(throws: AuthError.expired(at: testNow.addingTimeInterval(60))) { try auth.checkNotExpired(identity) }
    }
}
