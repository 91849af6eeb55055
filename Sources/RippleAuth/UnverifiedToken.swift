import Foundation
import RippleValues

/// A compact JWS split into its parts and decoded, before anything in it is trusted.
///
/// Parsing is done here rather than by jwt-kit so that every claim, standard or custom, is kept as
/// JSON and so that each kind of damage gets its own message.
struct UnverifiedToken: Sendable {
    /// The JOSE header's `alg`.
    let algorithm: String
    /// The JOSE header's `kid`, when present.
    let keyID: String?
    /// The claims object.
    let claims: [String: JSON]
    /// `header.payload`, the bytes the signature covers.
    let signingInput: [UInt8]
    /// The decoded signature.
    let signature: [UInt8]

    /// Tokens above this size are refused before any decoding; real ID tokens are a few KiB.
    static let maximumLength = 64 * 1024

    init(_ token: String) throws(AuthError) {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maximumLength else {
            throw .malformedToken(reason: "it is longer than \(Self.maximumLength) bytes")
        }
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw .malformedToken(reason: parts.count == 5 ? "encrypted tokens (JWE) are not supported" : "it must have three dot-separated parts")
        }
        guard let headerBytes = base64URLDecode(parts[0]), let header = try? JSON.parse(headerBytes),
            case .object = header
        else {
            throw .malformedToken(reason: "the header is not a base64url-encoded JSON object")
        }
        guard let claimBytes = base64URLDecode(parts[1]), let claims = try? JSON.parse(claimBytes),
            case .object(let claimFields) = claims
        else {
            throw .malformedToken(reason: "the claims are not a base64url-encoded JSON object")
        }
        guard let signature = base64URLDecode(parts[2]) else {
            throw .malformedToken(reason: "the signature is not base64url-encoded")
        }
        guard let alg = header["alg"]?.stringValue else {
            throw .malformedToken(reason: "the header has no \"alg\"")
        }
        if let crit = header["crit"], !crit.isNull {
            // RFC 7515 §4.1.11: an extension we do not understand must not be ignored.
            throw .malformedToken(reason: "the header lists critical extensions (\"crit\"), which are not supported")
        }
        var keyID: String? = nil
        if let kid = header["kid"], !kid.isNull {
            guard let text = kid.stringValue else { throw .malformedToken(reason: "the header's \"kid\" is not a string") }
            keyID = text
        }
        self.algorithm = alg
        self.keyID = keyID
        self.claims = Self.firstWins(claimFields)
        self.signingInput = Array(bytes[..<(parts[0].count + 1 + parts[1].count)])
        self.signature = signature
    }

    private static func firstWins(_ fields: [(String, JSON)]) -> [String: JSON] {
        var out: [String: JSON] = [:]
        for (name, value) in fields where out[name] == nil { out[name] = value }
        return out
    }
}

// MARK: - Claim access

extension UnverifiedToken {
    /// A string claim; `nil` when absent or null, an error when of another type.
    func string(_ name: String) throws(AuthError) -> String? {
        guard let value = claims[name], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw .malformedToken(reason: "the \"\(name)\" claim is not a string") }
        return text
    }

    /// A NumericDate claim (seconds since the epoch, possibly fractional).
    func date(_ name: String) throws(AuthError) -> Date? {
        guard let value = claims[name], !value.isNull else { return nil }
        switch value {
        case .int(let seconds): return Date(timeIntervalSince1970: Double(seconds))
        case .number(let seconds) where seconds.isFinite: return Date(timeIntervalSince1970: seconds)
        default: throw .malformedToken(reason: "the \"\(name)\" claim is not a number of seconds")
        }
    }

    /// `aud`, which RFC 7519 allows as one string or an array of strings.
    func audiences() throws(AuthError) -> [String] {
        guard let value = claims["aud"], !value.isNull else { return [] }
        if let single = value.stringValue { return [single] }
        if let many = value.arrayValue {
            var out: [String] = []
            for item in many {
                guard let text = item.stringValue else { throw .malformedToken(reason: "the \"aud\" claim holds a non-string") }
                out.append(text)
            }
            return out
        }
        throw .malformedToken(reason: "the \"aud\" claim is neither a string nor an array of strings")
    }
}

/// Decodes unpadded base64url (RFC 4648 §5); `nil` on any other character.
func base64URLDecode(_ text: some Collection<UInt8>) -> [UInt8]? {
    var base64 = [UInt8]()
    base64.reserveCapacity(text.count + 3)
    for byte in text {
        switch byte {
        case UInt8(ascii: "-"): base64.append(UInt8(ascii: "+"))
        case UInt8(ascii: "_"): base64.append(UInt8(ascii: "/"))
        case UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): return nil
        default: base64.append(byte)
        }
    }
    if base64.count % 4 == 1 { return nil }
    while base64.count % 4 != 0 { base64.append(UInt8(ascii: "=")) }
    guard let data = Data(base64Encoded: Data(base64)) else { return nil }
    return Array(data)
}

/// Encodes unpadded base64url.
func base64URLEncode(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
