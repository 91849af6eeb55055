import Crypto
import RippleLog

/// The replica's side of the handshake, as a pure state machine: send `hello`, feed it the
/// writer's messages, carry out the actions it returns.
///
/// The writer must prove the cluster secret too (in `accepted`, over both nonces), so a replica
/// never follows an impostor; and since a `refused` carries no proof, a refusal is never final:
/// the replica logs it and retries with backoff.
public struct ReplicaHandshake: Sendable {
    /// What the connection must do next.
    public enum Action: Sendable, Equatable {
        /// Send this message (the proof) and wait for the writer's verdict.
        case send(ReplicationMessage)
        /// The writer proved itself and opened the link: tag every later frame with `keys`;
        /// commits after the hello's applied timestamp follow.
        case accepted(latestTimestamp: CommitTimestamp, keys: LinkKeys)
        /// The writer (or someone on the path) refused the link.
        case refused(reason: String)
        /// The writer broke the protocol or failed to prove the secret; close the link.
        case fail(ReplicationError)
    }

    private enum State: Sendable {
        case idle
        case awaitingChallenge
        case awaitingVerdict(HandshakeTranscript)
        case finished
    }

    private let clusterID: String
    private let nodeID: String
    private let key: SymmetricKey
    private let appliedTimestamp: CommitTimestamp
    private let nonce: [UInt8]
    private let term: UInt64
    private let appliedTerm: UInt64
    private var state = State.idle

    /// - Parameter nonce: fresh random bytes per handshake (`HandshakeProof.randomNonce()`);
    ///   tests inject fixed ones.
    /// - Parameter term: the leadership term of the writer to follow (0 without failover).
    /// - Parameter appliedTerm: the term of the commit at `appliedTimestamp` (`Commit.term`).
    public init(
        clusterID: String, nodeID: String, secret: [UInt8], appliedTimestamp: CommitTimestamp, nonce: [UInt8] = HandshakeProof.randomNonce(),
        term: UInt64 = 0, appliedTerm: UInt64 = 0
    ) {
        self.term = term
        self.appliedTerm = appliedTerm
        self.clusterID = clusterID
        self.nodeID = nodeID
        self.key = SymmetricKey(data: secret)
        self.appliedTimestamp = appliedTimestamp
        self.nonce = nonce
    }

    /// The opening `hello`, to send once right after connecting.
    public mutating func start() -> ReplicationMessage {
        guard case .idle = state else { preconditionFailure("ReplicaHandshake.start() called twice") }
        state = .awaitingChallenge
        return .hello(clusterID: clusterID, nodeID: nodeID, appliedTimestamp: appliedTimestamp, nonce: nonce, term: term, appliedTerm: appliedTerm)
    }

    /// Feeds one message from the writer.
    public mutating func receive(_ message: ReplicationMessage) -> Action {
        switch (state, message) {
        case (.awaitingChallenge, .challenge(let writerNonce)) where writerNonce.count == HandshakeProof.nonceLength:
            let transcript = HandshakeTranscript(
                clusterID: clusterID, nodeID: nodeID, appliedTimestamp: appliedTimestamp, replicaNonce: nonce, writerNonce: writerNonce,
                term: term, appliedTerm: appliedTerm)
            state = .awaitingVerdict(transcript)
            return .send(.proof(hmac: HandshakeProof.replica(key: key, transcript)))
        case (.awaitingVerdict(let transcript), .accepted(let latest, let proof)):
            state = .finished
            guard HandshakeProof.verifyWriter(proof, key: key, transcript, latestTimestamp: latest) else {
                return .fail(.writerNotAuthenticated)
            }
            let keys = HandshakeProof.linkKeys(key: key, transcript)
            return .accepted(latestTimestamp: latest, keys: LinkKeys(sending: keys.replicaToWriter, receiving: keys.writerToReplica))
        case (.awaitingChallenge, .refused(let reason)), (.awaitingVerdict, .refused(let reason)):
            state = .finished
            return .refused(reason: reason)
        default:
            state = .finished
            return .fail(.unexpectedMessage("\(message.kind) during the handshake"))
        }
    }
}
