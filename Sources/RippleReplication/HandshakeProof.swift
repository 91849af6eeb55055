import Crypto
import RippleLog

/// What both ends of one handshake agreed on: who the replica is, where it stands, and a fresh
/// nonce from each side. Every proof and both frame keys are HMAC-SHA256 under the cluster secret
/// over this transcript, with a label per use, so no value can stand in for another: a proof is
/// single-use (the other side's nonce is in it), names one node and position, and a writer's
/// proof is never a replica's.
public struct HandshakeTranscript: Sendable, Equatable {
    public var clusterID: String
    public var nodeID: String
    public var appliedTimestamp: CommitTimestamp
    public var replicaNonce: [UInt8]
    public var writerNonce: [UInt8]
    /// The leadership term the replica means to follow; in every proof and frame key, so a link
    /// belongs to one term and nothing of an older writer passes on it.
    public var term: UInt64
    /// The term of the replica's applied commit: proved with its timestamp, so nothing on the
    /// path can make a forked replica pass for one that holds the writer's commit.
    public var appliedTerm: UInt64

    public init(
        clusterID: String, nodeID: String, appliedTimestamp: CommitTimestamp, replicaNonce: [UInt8], writerNonce: [UInt8], term: UInt64 = 0,
        appliedTerm: UInt64 = 0
    ) {
        self.term = term
        self.appliedTerm = appliedTerm
        self.clusterID = clusterID
        self.nodeID = nodeID
        self.appliedTimestamp = appliedTimestamp
        self.replicaNonce = replicaNonce
        self.writerNonce = writerNonce
    }

    /// `label`, then every field length-prefixed, so no two transcripts share their bytes (with
    /// plain concatenation, cluster "ab" + node "c" would prove cluster "a" + node "bc").
    func bytes(_ label: String, latestTimestamp: CommitTimestamp? = nil) -> [UInt8] {
        var out: [UInt8] = []
        for field in [Array(label.utf8), Array(clusterID.utf8), Array(nodeID.utf8), replicaNonce, writerNonce] {
            out.appendBigEndian(UInt32(truncatingIfNeeded: field.count))
            out += field
        }
        out.appendBigEndian(appliedTimestamp.nanoseconds)
        out.appendBigEndian(term)
        out.appendBigEndian(appliedTerm)
        if let latestTimestamp { out.appendBigEndian(latestTimestamp.nanoseconds) }
        return out
    }
}

/// The proofs of the cluster secret each side gives in the handshake, and the per-link frame
/// keys derived once both have.
///
/// - replica → writer, in `proof`: `HMAC(secret, "ripple replica proof" ‖ transcript)`;
/// - writer → replica, in `accepted`: `HMAC(secret, "ripple writer proof" ‖ transcript ‖ latest)`;
/// - frame keys: `HMAC(secret, "ripple link key" ‖ transcript)`, then one key per direction
///   from it, so a frame replayed back to its sender fails.
public enum HandshakeProof {
    /// Nonce length each side sends.
    public static let nonceLength = 32

    /// The replica's proof for one handshake.
    public static func replica(secret: [UInt8], _ transcript: HandshakeTranscript) -> [UInt8] {
        replica(key: SymmetricKey(data: secret), transcript)
    }

    /// The writer's proof for one handshake, binding the latest timestamp it announces.
    public static func writer(secret: [UInt8], _ transcript: HandshakeTranscript, latestTimestamp: CommitTimestamp) -> [UInt8] {
        writer(key: SymmetricKey(data: secret), transcript, latestTimestamp: latestTimestamp)
    }

    static func replica(key: SymmetricKey, _ transcript: HandshakeTranscript) -> [UInt8] {
        mac(key, transcript.bytes("ripple replica proof"))
    }

    static func writer(key: SymmetricKey, _ transcript: HandshakeTranscript, latestTimestamp: CommitTimestamp) -> [UInt8] {
        mac(key, transcript.bytes("ripple writer proof", latestTimestamp: latestTimestamp))
    }

    /// Whether `proof` equals `expected`, in constant time (swift-crypto's comparison) so the
    /// timing of a refusal says nothing about how many bytes matched.
    static func verify(_ proof: [UInt8], key: SymmetricKey, message: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: message, using: key)
    }

    static func verifyReplica(_ proof: [UInt8], key: SymmetricKey, _ transcript: HandshakeTranscript) -> Bool {
        verify(proof, key: key, message: transcript.bytes("ripple replica proof"))
    }

    static func verifyWriter(_ proof: [UInt8], key: SymmetricKey, _ transcript: HandshakeTranscript, latestTimestamp: CommitTimestamp) -> Bool {
        verify(proof, key: key, message: transcript.bytes("ripple writer proof", latestTimestamp: latestTimestamp))
    }

    /// The frame keys of the link this handshake opens.
    static func linkKeys(key: SymmetricKey, _ transcript: HandshakeTranscript) -> (writerToReplica: [UInt8], replicaToWriter: [UInt8]) {
        let linkKey = SymmetricKey(data: mac(key, transcript.bytes("ripple link key")))
        return (mac(linkKey, Array("writer to replica".utf8)), mac(linkKey, Array("replica to writer".utf8)))
    }

    /// A nonce from the system's cryptographic random source.
    @Sendable public static func randomNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<nonceLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    private static func mac(_ key: SymmetricKey, _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }
}

/// The keys that authenticate one link's frames after the handshake, one per direction
/// (see `FrameAuthenticator`).
public struct LinkKeys: Sendable, Equatable {
    /// Tags the frames this end sends.
    public let sending: [UInt8]
    /// Checks the frames this end receives.
    public let receiving: [UInt8]

    public init(sending: [UInt8], receiving: [UInt8]) {
        self.sending = sending
        self.receiving = receiving
    }
}

/// Why the writer refused a replica. Only `wireText` goes to the replica: a refused hello or
/// proof reads the same whatever was wrong with it, so a prober learns nothing from it; the
/// precise reason is for the writer's log.
public enum HandshakeRefusal: String, Sendable, CaseIterable {
    /// The replica belongs to another cluster.
    case wrongClusterID = "wrong cluster id"
    /// The proof does not match the nonces under the cluster secret.
    case authenticationFailed = "authentication failed"
    /// The replica sent something other than the next handshake message, or a malformed one.
    case protocolViolation = "unexpected message during the handshake"
    /// The replica says it applied a commit newer than any the writer has: it must not follow
    /// this writer until an operator sorts out which history is right.
    case replicaAhead = "the replica is ahead of the writer"
    /// The replica follows another leadership term: this writer was replaced (or the replica
    /// has not yet learnt of its election); the replica rereads the leader from etcd.
    case termMismatch = "the writer leads another term"

    /// The text sent in `refused(reason:)`.
    public var wireText: String {
        switch self {
        case .wrongClusterID, .authenticationFailed, .protocolViolation: "refused"
        case .replicaAhead, .termMismatch: rawValue
        }
    }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
