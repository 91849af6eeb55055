import Crypto
import Foundation
import Logging
import Ripple

/// Clerk tells the backend about new, changed and deleted users through webhooks, signed as
/// Svix signs them. `POST /http/webhooks/clerk` verifies the signature with
/// `CLERK_WEBHOOK_SECRET` and keeps the `users` table in step: `user.created` and
/// `user.updated` upsert by `clerkId`, `user.deleted` removes. A redelivered event writes the
/// same values again, so redelivery is harmless.
extension ChatApp {
    static func registerClerkWebhook(_ http: inout HTTPRouter, _ functions: inout FunctionRegistry) {
        http.route(path: "/webhooks/clerk", method: .post) { ctx, request in
            guard let secret = ctx.env["CLERK_WEBHOOK_SECRET"] else {
                ctx.logger.warning("Clerk webhook refused: CLERK_WEBHOOK_SECRET is not set")
                return .text("The webhook is not configured on this deployment\n", status: 500)
            }
            let verifier: SvixVerifier
            do {
                verifier = try SvixVerifier(secret: secret)
            } catch {
                ctx.logger.warning("Clerk webhook refused: CLERK_WEBHOOK_SECRET is not whsec_<base64>")
                return .text("The webhook is not configured on this deployment\n", status: 500)
            }
            do throws(SvixVerifier.Refusal) {
                try verifier.verify(
                    id: request.header("svix-id"), timestamp: request.header("svix-timestamp"),
                    signatures: request.header("svix-signature"), body: request.body, now: Date().timeIntervalSince1970)
            } catch {
                return .text("\(error)\n", status: error.status)
            }
            guard let event = try? JSON.parse(request.body), let type = event["type"]?.stringValue, let data = event["data"],
                let clerkId = data["id"]?.stringValue
            else {
                return .text("The body is not a Clerk event\n", status: 400)
            }
            switch type {
            case "user.created", "user.updated":
                _ = try await ctx.runMutation("users:upsertFromClerk", clerkUserFields(clerkId, data))
            case "user.deleted":
                _ = try await ctx.runMutation("users:deleteFromClerk", ["clerkId": .string(clerkId)])
            default:
                return .text("ignored \(type)\n")
            }
            return .text("ok\n")
        }

        functions.internalMutation(
            "users:upsertFromClerk",
            args: ["clerkId": v.string(), "email": v.string(), "name": v.string(), "imageUrl": v.optional(v.string())]
        ) { ctx, args in
            let clerkId = try args.string("clerkId")
            var fields: [String: Value] = [
                "clerkId": .string(clerkId), "email": .string(try args.string("email")), "name": .string(try args.string("name")),
            ]
            if let image = try args.optionalString("imageUrl") { fields["imageUrl"] = .string(image) }
            if let existing = try userRecord(ctx.db, clerkId: clerkId) {
                var changes: [String: Value?] = fields.filter { existing[$0.key] != $0.value }.mapValues { Optional($0) }
                if existing["imageUrl"] != nil, fields["imageUrl"] == nil { changes["imageUrl"] = .some(nil) }
                if !changes.isEmpty { try ctx.db.patch(existing.id, changes) }
                return existing.id
            }
            fields["createdAt"] = .float64(ctx.now)
            return try ctx.db.insert("users", fields)
        }

        functions.internalMutation("users:deleteFromClerk", args: ["clerkId": v.string()]) { ctx, args in
            guard let existing = try userRecord(ctx.db, clerkId: try args.string("clerkId")) else { return false }
            try ctx.db.delete(existing.id)
            return true
        }
    }

    /// A Clerk user object as `users` fields: the primary email, the name from first and last
    /// name (the email when both are empty), the image.
    static func clerkUserFields(_ clerkId: String, _ data: JSON) -> [String: Value] {
        let primary = data["primary_email_address_id"]?.stringValue
        let addresses = data["email_addresses"]?.arrayValue ?? []
        let email = (addresses.first { $0["id"]?.stringValue == primary } ?? addresses.first)?["email_address"]?.stringValue ?? ""
        let name = [data["first_name"]?.stringValue, data["last_name"]?.stringValue].compactMap { $0 }.filter { !$0.isEmpty }
            .joined(separator: " ")
        var fields: [String: Value] = [
            "clerkId": .string(clerkId), "email": .string(email), "name": .string(name.isEmpty ? (email.isEmpty ? clerkId : email) : name),
        ]
        if let image = data["image_url"]?.stringValue, !image.isEmpty { fields["imageUrl"] = .string(image) }
        return fields
    }
}

/// Svix's webhook signature: `svix-signature` holds space-separated `v1,<base64>` entries, each
/// an HMAC-SHA256 of `"<svix-id>.<svix-timestamp>.<body>"` keyed with the base64 part of the
/// `whsec_…` secret. One matching entry suffices (several exist while a secret rotates);
/// timestamps more than five minutes away from now are refused (replays).
struct SvixVerifier {
    static let tolerance: Double = 5 * 60

    private let key: SymmetricKey

    struct BadSecret: Error {}

    init(secret: String) throws {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let bytes = Data(base64Encoded: encoded), !bytes.isEmpty else { throw BadSecret() }
        key = SymmetricKey(data: bytes)
    }

    /// Why a delivery was refused; `status` is the HTTP answer.
    enum Refusal: Error, Equatable, CustomStringConvertible {
        case missingHeaders
        case badTimestamp
        case timestampOutOfTolerance
        case noMatchingSignature

        var status: Int { self == .missingHeaders ? 400 : 401 }

        var description: String {
            switch self {
            case .missingHeaders: "Missing svix-id, svix-timestamp or svix-signature"
            case .badTimestamp: "svix-timestamp is not a number of seconds"
            case .timestampOutOfTolerance: "svix-timestamp is more than 5 minutes away from now"
            case .noMatchingSignature: "No signature matches"
            }
        }
    }

    func verify(id: String?, timestamp: String?, signatures: String?, body: [UInt8], now: Double) throws(Refusal) {
        guard let id, let timestamp, let signatures, !id.isEmpty, !timestamp.isEmpty, !signatures.isEmpty else {
            throw .missingHeaders
        }
        guard let seconds = Double(timestamp), seconds.isFinite else { throw .badTimestamp }
        guard abs(now - seconds) <= Self.tolerance else { throw .timestampOutOfTolerance }
        let signed = Array("\(id).\(timestamp).".utf8) + body
        for entry in signatures.split(separator: " ") {
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let signature = Data(base64Encoded: String(parts[1])) else { continue }
            // Crypto's check compares in constant time.
            if HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: key) { return }
        }
        throw .noMatchingSignature
    }
}
