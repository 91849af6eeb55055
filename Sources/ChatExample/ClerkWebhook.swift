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
                try await ctx.runMutation(ClerkUsers.upsertFromClerk, clerkUserFields(clerkId, data))
            case "user.deleted":
                try await ctx.runMutation(ClerkUsers.deleteFromClerk, .init(clerkId: clerkId))
            default:
                return .text("ignored \(type)\n")
            }
            return .text("ok\n")
        }

        functions.internalMutation(ClerkUsers.upsertFromClerk) { ctx, args in
            guard let existing = try userRecord(ctx.db, clerkId: args.clerkId) else {
                return try ctx.db.insert(User(
                    clerkId: args.clerkId, email: args.email, name: args.name, imageUrl: args.imageUrl, createdAt: ctx.now))
            }
            let updated = User(
                clerkId: args.clerkId, email: args.email, name: args.name, imageUrl: args.imageUrl, createdAt: existing.createdAt)
            if updated != existing.record { try ctx.db.replace(existing.id, updated) }
            return existing.id
        }

        functions.internalMutation(ClerkUsers.deleteFromClerk) { ctx, args in
            guard let existing = try userRecord(ctx.db, clerkId: args.clerkId) else { return false }
            try ctx.db.delete(existing.id)
            return true
        }
    }

    /// A Clerk user object as `users` fields: the primary email, the name from first and last
    /// name (the email when both are empty), the image.
    static func clerkUserFields(_ clerkId: String, _ data: JSON) -> ClerkUsers.ClerkUser {
        let primary = data["primary_email_address_id"]?.stringValue
        let addresses = data["email_addresses"]?.arrayValue ?? []
        let email = (addresses.first { $0["id"]?.stringValue == primary } ?? addresses.first)?["email_address"]?.stringValue ?? ""
        let name = [data["first_name"]?.stringValue, data["last_name"]?.stringValue].compactMap { $0 }.filter { !$0.isEmpty }
            .joined(separator: " ")
        return ClerkUsers.ClerkUser(
            clerkId: clerkId, email: email, name: name.isEmpty ? (email.isEmpty ? clerkId : email) : name,
            imageUrl: data["image_url"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
    }
}

/// The internal mutations the Clerk webhook writes `users` through.
enum ClerkUsers {
    /// A Clerk user as the `users` table keeps it.
    struct ClerkUser: Codable, Sendable, Equatable {
        var clerkId: String
        var email: String
        var name: String
        var imageUrl: String?
    }

    struct ClerkIdArgs: Codable, Sendable {
        var clerkId: String
    }

    static let upsertFromClerk = MutationReference<ClerkUser, ID<User>>("users:upsertFromClerk")
    static let deleteFromClerk = MutationReference<ClerkIdArgs, Bool>("users:deleteFromClerk")
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
