import Crypto
import Foundation
import RippleValues
import Testing

@testable import ChatExample

/// Svix signatures as Clerk sends them.
struct SvixVerifierTests {
    let secretBytes = Data((0..<24).map { UInt8($0 * 7 % 256) })
    var secret: String { "whsec_" + secretBytes.base64EncodedString() }
    let body = Array(#"{"type":"user.created","data":{"id":"user_1"}}"#.utf8)
    let now = 1_700_000_000.0

    func sign(_ id: String, _ timestamp: String, _ body: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + body, using: SymmetricKey(data: secretBytes))
        return "v1," + Data(mac).base64EncodedString()
    }

    @Test func aValidSignatureAmongSeveralIsAccepted() throws {
        let verifier = try SvixVerifier(secret: secret)
        let signatures = "v1,AAAA v2,zzz " + sign("msg_1", "1700000000", body)
        try verifier.verify(id: "msg_1", timestamp: "1700000000", signatures: signatures, body: body, now: now)
    }

    @Test func refusals() throws {
        let verifier = try SvixVerifier(secret: secret)
        let good = sign("msg_1", "1700000000", body)
        #expect(throws: SvixVerifier.Refusal.missingHeaders) {
            try verifier.verify(id: nil, timestamp: "1700000000", signatures: good, body: body, now: now)
        }
        #expect(throws: SvixVerifier.Refusal.noMatchingSignature) {
            try verifier.verify(id: "msg_1", timestamp: "1700000000", signatures: good, body: body + [0x20], now: now)
        }
        #expect(throws: SvixVerifier.Refusal.noMatchingSignature) {
            try verifier.verify(id: "msg_2", timestamp: "1700000000", signatures: good, body: body, now: now)
        }
        let old = sign("msg_1", "1699999600", body)
        #expect(throws: SvixVerifier.Refusal.timestampOutOfTolerance) {
            try verifier.verify(id: "msg_1", timestamp: "1699999600", signatures: old, body: body, now: now)
        }
        #expect(throws: SvixVerifier.Refusal.badTimestamp) {
            try verifier.verify(id: "msg_1", timestamp: "yesterday", signatures: good, body: body, now: now)
        }
    }

    @Test func clerkUserFields() throws {
        let data = try JSON.parse(#"""
            {"id":"user_1","first_name":"Ada","last_name":"Lovelace","image_url":"https://img/1",
             "primary_email_address_id":"e2","email_addresses":[{"id":"e1","email_address":"old@x"},{"id":"e2","email_address":"ada@x"}]}
            """#)
        let fields = ChatApp.clerkUserFields("user_1", data)
        #expect(fields == .init(clerkId: "user_1", email: "ada@x", name: "Ada Lovelace", imageUrl: "https://img/1"))
    }
}
