import Foundation
import RippleValues

// The token parser is internal to RippleAuth; scripts/fuzz builds debug, which is testable.
@testable import RippleAuth

/// A user token as a client sends it, before any key is looked at: any text either is refused with
/// `AuthError` or parses into a header and claims that every accessor and the identity mapping
/// accept without trapping; refusal messages stay bounded whatever the token holds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJWT(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    checkBase64URL(bytes)
    let text = String(decoding: bytes, as: UTF8.self)
    do throws(AuthError) {
        let token = try UnverifiedToken(text)
        precondition(token.signingInput.count <= UnverifiedToken.maximumLength)
        exercise(token)
    } catch {
        checkMessage(error)
    }
    return 0
}

/// Every claim accessor the verifier uses, then the identity built from the claims.
private func exercise(_ token: UnverifiedToken) {
    var subject = "s"
    var issuer = "i"
    do throws(AuthError) {
        issuer = try token.string("iss") ?? issuer
        subject = try token.string("sub") ?? subject
        _ = try token.audiences()
        _ = try token.date("exp")
        _ = try token.date("nbf")
    } catch {
        checkMessage(error)
    }
    let identity = UserIdentity(claims: token.claims, subject: subject, issuer: issuer, expiresAt: Date(timeIntervalSince1970: 0))
    _ = identity.asValue
    for refusal in [AuthError.unsupportedAlgorithm(token.algorithm), .unknownKey(keyID: token.keyID ?? "", issuer: issuer)] {
        checkMessage(refusal)
    }
}

/// What a client reads quotes at most a short piece of anything taken from the token.
private func checkMessage(_ error: AuthError) {
    precondition(error.description.utf8.count < 4096, "refusal message grows with the token: \(error.description.prefix(200))")
}

/// Decoding and encoding base64url agree: whatever decodes re-encodes to text that decodes the same.
private func checkBase64URL(_ bytes: UnsafeBufferPointer<UInt8>) {
    guard let decoded = base64URLDecode(bytes) else { return }
    precondition(base64URLDecode(Array(base64URLEncode(decoded).utf8)) == decoded, "base64url round trip changed the bytes")
}
