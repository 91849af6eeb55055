import Foundation
import JWTKit
import RippleAuth
import RippleNodeTestSupport
import RippleProtocol
@testable import RippleSync
import RippleValues
import Testing

/// A session whose user token runs out stops receiving that user's data at `exp` (+ leeway), even
/// if it only listens: it hears `AuthError` and its queries go on as anonymous.
@Suite(.serialized) struct TokenExpiryTests {
    static let issuer = "https://issuer.example.test"

    /// An ES256 key, the authenticator that trusts it (no leeway), and a token signer.
    struct Issuer {
        let authenticator: Authenticator
        let sign: @Sendable (_ claims: [String: JSON]) async throws -> String

        static func make() async throws -> Issuer {
            let key = ES256PrivateKey()
            let keys = JWTKeyCollection()
            await keys.add(ecdsa: key, kid: JWKIdentifier(string: "k1"))
            let (x, y) = key.publicKey.parameters!
            let jwk = #"{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","alg":"ES256","x":"\#(x)","y":"\#(y)"}]}"#
            let authenticator = try Authenticator(
                config: AuthConfig(providers: [AuthProvider(domain: TokenExpiryTests.issuer, applicationID: "convex", keys: .jwks(jwk))]),
                clockLeeway: .zero)
            let signer = try await keys.getKey(for: JWKIdentifier(string: "k1"))
            return Issuer(authenticator: authenticator) { claims in
                let header = segment(.object([("alg", .string("ES256")), ("kid", .string("k1")), ("typ", .string("JWT"))]))
                let input = header + "." + segment(.object(claims.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
                return input + "." + base64URL(try signer.sign(Array(input.utf8)))
            }
        }

        static func segment(_ json: JSON) -> String { base64URL(json.serializedBytes()) }

        static func base64URL(_ bytes: [UInt8]) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
    }

    @Test func listeningSessionIsMovedToAnonymousAtExpiry() async throws {
        let issuer = try await Issuer.make()
        // The socket outlives a WebSocket ping or two, and the node closes a socket whose pong
        // has not come back within a ping period (5 s). Under the full suite's load the exchange
        // once ended after 14.8 s with no AuthError, through Hummingbird's client, whose pongs
        // and reads wait for the busy concurrency pool. Liveness is not what this test checks: the
        // node pings seldom, and the raw client reads on a thread of its own.
        let node = try await TestNode.start(authenticator: issuer.authenticator) { $0.webSocketPingPeriod = .seconds(120) }
        let expiresAt = Int64(Date().timeIntervalSince1970) + 8  // time for the user's first answer even under the full suite's load
        let token = try await issuer.sign([
            "iss": .string(Self.issuer), "sub": .string("user_1"), "aud": .string("convex"), "exp": .int(expiresAt),
        ])
        let started = ContinuousClock.now
        let giveUp = started + .seconds(30)
        let reply = try await RawWebSocket.exchange(
            host: node.host, port: node.port,
            texts: [
                healthySessionTexts[0],
                #"{"type":"Authenticate","baseVersion":0,"tokenType":"User","value":"\#(token)"}"#,
                #"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Add","queryId":0,"udfPath":"diagnostics:whoami","args":[{}]}]}"#,
            ], timeout: 30
        ) { texts in
            ContinuousClock.now > giveUp || texts.contains { $0.contains("QueryUpdated") && $0.contains(#""value":null"#) }
        }
        // What a failure needs to be read: how and when the exchange ended, and every message.
        let ending = "ended after \(ContinuousClock.now - started), server closed: \(reply.serverClosed), "
            + "close code: \(String(describing: reply.closeCode)), messages: \(reply.texts)"
        let messages = reply.texts.compactMap { try? ServerMessage.parse($0) }.filter { if case .ping = $0 { false } else { true } }
        // First the user's identity, then — at expiry, with no message from the client — the
        // AuthError, then the same query as anonymous.
        let whoami: [Value] = messages.compactMap {
            guard case .transition(let transition) = $0 else { return nil }
            return transition.modifications.compactMap { if case .queryUpdated(_, let value, _, _) = $0 { value } else { nil } }.first
        }
        #expect(whoami.first?["subject"] == .string("user_1"), "\(ending)")
        #expect(whoami.last == .null, "\(ending)")
        let errors = messages.compactMap { if case .authError(let error, let base, let attempted) = $0 { (error, base, attempted) } else { nil } }
        #expect(errors.count == 1, "\(ending)")
        #expect(errors.first?.0 == "Convex token identity expired")
        #expect(errors.first?.1 == 1)
        #expect(errors.first?.2 == false)
        #expect(Date().timeIntervalSince1970 >= Double(expiresAt), "moved to anonymous before the token ran out")
        await node.stop()
    }

    /// The deadline fires on the event loop's monotonic clock, `hasPassed` reads the wall clock:
    /// when the two disagree, a deadline that fired must still count as passed, or the session
    /// ignores it and its listener keeps receiving the user's data with no later deadline to come.
    @Test func aDeadlineThatFiredHasPassedWhateverTheWallClockSays() async {
        let now = Date()
        let (firings, fire) = AsyncStream<Void>.makeStream()
        // Scheduled while the wall clock read an hour ahead: it fires in 50 ms, an hour before
        // `instant` by the clock as it reads now.
        let deadline = TokenDeadline(expiresAt: now + 3600.05, leeway: .zero, now: now + 3600) { fire.yield() }
        #expect(!deadline.hasPassed())
        var fired = firings.makeAsyncIterator()
        _ = await fired.next()
        #expect(deadline.hasPassed())
    }
}
