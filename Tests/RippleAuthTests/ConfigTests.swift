import Foundation
import Testing

@testable import RippleAuth

@Suite struct TransportRuleTests {
    @Test(arguments: ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "[::1]"])
    func loopbackHosts(host: String) {
        #expect(TransportRule.isLoopback(host: host))
    }

    @Test(arguments: [
        "example.com", "128.0.0.1", "10.0.0.1", "127.0.0.1.evil.example", "localhost.evil.example", "127.0.0", "127.0.0.256",
        "0.0.0.0", "::", "::2", "",
    ])
    func nonLoopbackHosts(host: String) {
        #expect(!TransportRule.isLoopback(host: host))
    }

    @Test func httpsIsAlwaysAllowedAndHTTPOnlyOnLoopback() throws {
        for allowed in ["https://auth.example.com", "https://127.0.0.1", "http://127.0.0.1:8080/x", "http://localhost:3000", "http://[::1]:9000"] {
            #expect(TransportRule.refusal(for: try #require(URL(string: allowed))) == nil, "\(allowed)")
        }
        let refusals = [
            "http://auth.example.com": #""http://auth.example.com" uses plain http, which is allowed only for loopback hosts; use https"#,
            "http://10.0.0.7:8080": #""http://10.0.0.7:8080" uses plain http, which is allowed only for loopback hosts; use https"#,
            "ftp://auth.example.com": #""ftp://auth.example.com" is not an http(s) URL"#,
            "file:///etc/jwks.json": #""file:///etc/jwks.json" is not an absolute http(s) URL"#,
        ]
        for (refused, refusal) in refusals {
            #expect(TransportRule.refusal(for: try #require(URL(string: refused))) == refusal, "\(refused)")
        }
    }
}

@Suite struct ConfigTests {
    func configError(_ providers: [AuthProvider], leeway: Duration = .seconds(10)) -> AuthConfigError? {
        do {
            _ = try Authenticator(config: AuthConfig(providers: providers), clockLeeway: leeway)
            return nil
        } catch {
            return error
        }
    }

    @Test func plainHTTPDiscoveryIsRefusedExceptOnLoopback() {
        let error = configError([AuthProvider(domain: "http://auth.example.com", applicationID: "convex")])
        #expect(error?.description.contains("plain http") == true)
        #expect(configError([AuthProvider(domain: "http://127.0.0.1:4000", applicationID: "convex")]) == nil)
        #expect(configError([AuthProvider(domain: "http://localhost:4000/", applicationID: "convex")]) == nil)
    }

    @Test func staticJWKSNeedsNoTransportCheck() async throws {
        let signer = try await TestSigner.es256()
        let provider = AuthProvider(domain: "http://auth.example.com", applicationID: "convex", keys: .jwks(jwksText([signer])))
        #expect(configError([provider]) == nil)
    }

    @Test func badProvidersAreRefused() {
        #expect(configError([AuthProvider(domain: "not a url", applicationID: "convex")]) == AuthConfigError(#"the auth provider domain "not a url" is not an absolute URL"#))
        #expect(configError([AuthProvider(domain: "https://auth.example.com", applicationID: "")]) == AuthConfigError(#"the auth provider "https://auth.example.com" has an empty applicationID"#))
        #expect(configError([AuthProvider(domain: "https://a.example", applicationID: "c", keys: .jwks("{}"))]) == AuthConfigError(#"the JWKS for "https://a.example" is unusable: the key set has no "keys" array"#))
        #expect(configError([AuthProvider(domain: "https://a.example", applicationID: "c", keys: .jwks(#"{"keys":[]}"#))]) == AuthConfigError(
                #"the JWKS for "https://a.example" is unusable: the key set has no usable signing key (RSA, EC or OKP, for RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)"#))
    }

    @Test func mixingKeySourcesForOneIssuerIsRefused() async throws {
        let signer = try await TestSigner.es256()
        let error = configError([
            AuthProvider(domain: "https://a.example", applicationID: "web"),
            AuthProvider(domain: "https://a.example/", applicationID: "mobile", keys: .jwks(jwksText([signer]))),
        ])
        #expect(error?.description.contains("mix") == true)
    }

    @Test func leewayIsBounded() {
        #expect(configError([], leeway: .seconds(61)) == AuthConfigError("the clock leeway must be between 0 and 60 seconds, not 61.0 seconds"))
        #expect(configError([], leeway: .seconds(-1)) == AuthConfigError("the clock leeway must be between 0 and 60 seconds, not -1.0 seconds"))
        #expect(configError([], leeway: .seconds(60)) == nil)
    }

    @Test func jwksFromFileAndEnvironment() async throws {
        let signer = try await TestSigner.es256()
        let text = jwksText([signer])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ripple-auth-\(UUID().uuidString).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }

        #expect(try KeySource.jwksFile(path) == .jwks(text))
        #expect(throws: AuthConfigError("cannot read the JWKS file \(path).missing")) { try KeySource.jwksFile(path + ".missing") }
        #expect(try KeySource.jwksEnvironment("AUTH_JWKS", in: ["AUTH_JWKS": text]) == .jwks(text))
        #expect(throws: AuthConfigError("the environment variable AUTH_JWKS that should hold a JWKS is not set")) { try KeySource.jwksEnvironment("AUTH_JWKS", in: [:]) }

        let auth = try makeAuthenticator(keys: try KeySource.jwksFile(path))
        #expect(try await auth.verify(userToken: signer.token(claims())).subject == "user_123")
    }

    @Test func noProvidersRefusesEveryUserToken() async throws {
        let signer = try await TestSigner.es256()
        let auth = try Authenticator(config: AuthConfig(), now: { testNow })
        #expect(await refusal(auth, try signer.token(claims())) == .unknownIssuer(testIssuer))
    }

    @Test func privateKeyMaterialInAStaticJWKSIsIgnored() async throws {
        let signer = try await TestSigner.es256()
        guard case .object(var fields) = signer.publicJWK else { return }
        fields.append(("d", .string("AAAA")))
        let auth = try makeAuthenticator(keys: .jwks(jwksText([], extra: [.object(fields)])))
        #expect(try await auth.verify(userToken: signer.token(claims())).subject == "user_123")
    }
}

@Suite struct AdminKeyTests {
    func authenticator(adminKey: String?) throws -> Authenticator {
        try Authenticator(config: AuthConfig(adminKey: adminKey))
    }

    @Test func onlyTheExactKeyMatches() throws {
        let auth = try authenticator(adminKey: "prod|01ab23cd45ef")
        #expect(auth.isAdminKey("prod|01ab23cd45ef"))
        for wrong in ["", "prod|01ab23cd45e", "prod|01ab23cd45ef0", "prod|01ab23cd45eF", "PROD|01ab23cd45ef", "x"] {
            #expect(!auth.isAdminKey(wrong), "\(wrong)")
        }
    }

    @Test func noConfiguredKeyMatchesNothing() throws {
        #expect(!(try authenticator(adminKey: nil)).isAdminKey(""))
        #expect(!(try authenticator(adminKey: "")).isAdminKey(""))
    }

    @Test func adminKeyComesFromTheEnvironment() {
        #expect(AuthConfig.adminKey(fromEnvironment: ["RIPPLE_ADMIN_KEY": "secret"]) == "secret")
        #expect(AuthConfig.adminKey(fromEnvironment: ["RIPPLE_ADMIN_KEY": ""]) == nil)
        #expect(AuthConfig.adminKey(fromEnvironment: [:]) == nil)
    }
}

@Suite struct PlaceholderSecretTests {
    @Test func exampleAdminKeyIsRefusedAtStartUp() {
        let error = #expect(throws: AuthConfigError.self) { try Authenticator(config: AuthConfig(adminKey: "change-me-too")) }
        #expect(
            error?.description
                == "RIPPLE_ADMIN_KEY is still the placeholder \"change-me-too\" from ripple.env.example; "
                + "set a random secret, e.g. the output of `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`")
    }

    @Test func realSecretsAndPlaceholdersOfAnyCase() throws {
        for placeholder in ["CHANGE-ME", "change-me"] {
            #expect(
                PlaceholderSecret.refusal(placeholder, setting: "S")
                    == "S is still the placeholder \"\(placeholder)\" from ripple.env.example; "
                    + "set a random secret, e.g. the output of `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`")
        }
        #expect(PlaceholderSecret.refusal("3f9c0a6d1e", setting: "S") == nil)
        _ = try Authenticator(config: AuthConfig(adminKey: "3f9c0a6d1e"))
    }
}
