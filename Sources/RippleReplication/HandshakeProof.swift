import Crypto

/// The replica's proof that it knows the cluster secret:
/// `HMAC-SHA256(secret, nonce || clusterID || nodeID)`, strings as UTF-8.
///
/// The writer's fresh nonce makes every proof single-use, and binding the cluster and node ids
/// keeps a proof from being reused under another identity.
public enum HandshakeProof {
    /// Nonce length the writer sends.
    public static let nonceLength = 32

    /// The proof bytes for one handshake.
    public static func make(secret: [UInt8], nonce: [UInt8], clusterID: String, nodeID: String) -> [UInt8] {
        make(key: SymmetricKey(data: secret), nonce: nonce, clusterID: clusterID, nodeID: nodeID)
    }

    static func make(key: SymmetricKey, nonce: [UInt8], clusterID: String, nodeID: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message(nonce: nonce, clusterID: clusterID, nodeID: nodeID), using: key))
    }

    /// Whether `proof` is right, compared in constant time (swift-crypto's `safeCompare`) so the
    /// timing of a refusal says nothing about how many bytes matched.
    public static func verify(_ proof: [UInt8], secret: [UInt8], nonce: [UInt8], clusterID: String, nodeID: String) -> Bool {
        verify(proof, key: SymmetricKey(data: secret), nonce: nonce, clusterID: clusterID, nodeID: nodeID)
    }

    static func verify(_ proof: [UInt8], key: SymmetricKey, nonce: [UInt8], clusterID: String, nodeID: String) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: message(nonce: nonce, clusterID: clusterID, nodeID: nodeID), using: key)
    }

    /// A nonce from the system's cryptographic random source.
    @Sendable public static func randomNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<nonceLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    private static func message(nonce: [UInt8], clusterID: String, nodeID: String) -> [UInt8] {
        nonce + Array(clusterID.utf8) + Array(nodeID.utf8)
    }
}

/// Why the writer refused a replica, as sent in `refused(reason:)`. The raw value is the wire
/// text, so a replica can tell a permanent refusal from a passing one.
public enum HandshakeRefusal: String, Sendable, CaseIterable {
    /// The replica belongs to another cluster.
    case wrongClusterID = "wrong cluster id"
    /// The proof does not match the nonce under the cluster secret.
    case authenticationFailed = "authentication failed"
    /// The replica sent something other than the next handshake message.
    case protocolViolation = "unexpected message during the handshake"
    /// The replica says it applied a commit newer than any the writer has: it must not follow
    /// this writer until an operator sorts out which history is right.
    case replicaAhead = "the replica is ahead of the writer"

    /// Whether retrying cannot help (wrong configuration), so the replica should stop.
    public var isPermanent: Bool {
        switch self {
        case .wrongClusterID, .authenticationFailed: true
        case .protocolViolation, .replicaAhead: false
        }
    }
}
