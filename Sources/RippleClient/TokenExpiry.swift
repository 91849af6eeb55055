import Foundation
import RippleValues

/// When a JWT stops being valid, read from its `exp` claim without verifying it: the client only
/// needs to know when to ask for a new token, and the server does the verifying.
enum TokenExpiry {
    /// Seconds since 1970 of the token's `exp`, or `nil` when the token is not a JWT or has none
    /// (then it is never refreshed ahead of time, only after the server refuses it).
    static func expiresAt(_ token: String) -> Double? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = base64URLDecode(parts[1]), let claims = try? JSON.parse(payload) else { return nil }
        switch claims["exp"] {
        case .int(let seconds)?: return Double(seconds)
        case .number(let seconds)?: return seconds
        default: return nil
        }
    }

    /// How long from `now` until the token should be replaced: `leeway` before it expires. Not
    /// at all when it has no expiry, or expires within the leeway: asking at once would get a
    /// token as short-lived and ask again at once, forever (the JS client skips those too); the
    /// server's AuthError at expiry then triggers the fetch.
    static func refreshDelay(_ token: String, now: Date, leeway: Duration) -> Duration? {
        guard let exp = expiresAt(token) else { return nil }
        let seconds = exp - now.timeIntervalSince1970 - Double(leeway.components.seconds)
        guard seconds > 0 else { return nil }
        return .milliseconds(Int64(seconds * 1000))
    }

    private static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map { Array($0) }
    }
}
