import Crypto
import RippleLog

/// The writer's side of the handshake, as a pure state machine: feed it the replica's messages,
/// carry out the actions it returns.
///
/// `hello` → `.send(challenge)`; `proof` → `.lookUpLatestTimestamp`; then
/// `latestTimestampFound(_:)` → `.accept` (send `accepted` with the writer's proof, tag every
/// later frame with `keys`, stream from the replica's applied timestamp) — or `.refuse` at any
/// step (send `refused`, log, close).
///
/// A hello for another cluster is challenged like any other and refused only after its proof,
/// with the same reply as a wrong proof: a prober cannot tell a wrong cluster id from a wrong
/// secret, nor learn the cluster id by trying.
public struct WriterHandshake: Sendable {
    /// What the connection must do next.
    public enum Action: Sendable, Equatable {
        /// Send this message and wait for the next one.
        case send(ReplicationMessage)
        /// The replica proved itself: find the newest commit timestamp and call `latestTimestampFound(_:)`.
        case lookUpLatestTimestamp
        /// Send `reply` (`accepted`), tag every later frame with `keys`, then stream commits after
        /// `appliedTimestamp` to `nodeID` — whose commit there was sequenced in `appliedTerm`.
        case accept(nodeID: String, appliedTimestamp: CommitTimestamp, appliedTerm: UInt64, reply: ReplicationMessage, keys: LinkKeys)
        /// Send `reply` (`refused`), log `refusal` with `nodeID` (when known), close the link.
        case refuse(HandshakeRefusal, nodeID: String?, reply: ReplicationMessage)
    }

    /// The longest node id a hello may carry; ids are names in logs and `/health`.
    public static let maxNodeIDBytes = 256

    private enum State: Sendable {
        case awaitingHello
        case awaitingProof(HandshakeTranscript, clusterMatches: Bool)
        case awaitingLatestTimestamp(HandshakeTranscript)
        case finished
    }

    private let clusterID: String
    private let key: SymmetricKey
    private let nonceSource: @Sendable () -> [UInt8]
    private let term: UInt64
    private var state = State.awaitingHello

    /// - Parameter nonceSource: fresh challenge bytes per handshake; tests inject fixed ones.
    /// - Parameter term: this writer's leadership term (0 without failover); a replica naming
    ///   another term is refused after its proof.
    public init(
        clusterID: String, secret: [UInt8], nonceSource: @escaping @Sendable () -> [UInt8] = HandshakeProof.randomNonce, term: UInt64 = 0
    ) {
        self.term = term
        self.clusterID = clusterID
        self.key = SymmetricKey(data: secret)
        self.nonceSource = nonceSource
    }

    /// Feeds one message from the replica.
    public mutating func receive(_ message: ReplicationMessage) -> Action {
        switch (state, message) {
        case (.awaitingHello, .hello(let theirCluster, let nodeID, let applied, let replicaNonce, let theirTerm, let appliedTerm)):
            guard replicaNonce.count == HandshakeProof.nonceLength, nodeID.utf8.count <= Self.maxNodeIDBytes,
                theirCluster.utf8.count <= Self.maxNodeIDBytes
            else { return refuse(.protocolViolation, nodeID: nil) }
            let transcript = HandshakeTranscript(
                clusterID: clusterID, nodeID: nodeID, appliedTimestamp: applied, replicaNonce: replicaNonce, writerNonce: nonceSource(),
                term: theirTerm, appliedTerm: appliedTerm)
            state = .awaitingProof(transcript, clusterMatches: theirCluster == clusterID)
            return .send(.challenge(nonce: transcript.writerNonce))
        case (.awaitingProof(let transcript, let clusterMatches), .proof(let hmac)):
            guard clusterMatches else { return refuse(.wrongClusterID, nodeID: transcript.nodeID) }
            guard HandshakeProof.verifyReplica(hmac, key: key, transcript) else {
                return refuse(.authenticationFailed, nodeID: transcript.nodeID)
            }
            guard transcript.term == term else { return refuse(.termMismatch, nodeID: transcript.nodeID) }
            state = .awaitingLatestTimestamp(transcript)
            return .lookUpLatestTimestamp
        case (.awaitingProof(let transcript, _), _), (.awaitingLatestTimestamp(let transcript), _):
            return refuse(.protocolViolation, nodeID: transcript.nodeID)
        case (.awaitingHello, _), (.finished, _):
            return refuse(.protocolViolation, nodeID: nil)
        }
    }

    /// Completes a handshake after `.lookUpLatestTimestamp`.
    public mutating func latestTimestampFound(_ latest: CommitTimestamp) -> Action {
        guard case .awaitingLatestTimestamp(let transcript) = state else { return refuse(.protocolViolation, nodeID: nil) }
        // With failover, a replica ahead of the writer holds an old writer's unacknowledged tail:
        // it is accepted and gets a snapshot (`ReplicationServer`), which discards that tail.
        guard transcript.appliedTimestamp <= latest || term != 0 else { return refuse(.replicaAhead, nodeID: transcript.nodeID) }
        state = .finished
        let keys = HandshakeProof.linkKeys(key: key, transcript)
        return .accept(
            nodeID: transcript.nodeID,
            appliedTimestamp: transcript.appliedTimestamp,
            appliedTerm: transcript.appliedTerm,
            reply: .accepted(latestTimestamp: latest, proof: HandshakeProof.writer(key: key, transcript, latestTimestamp: latest)),
            keys: LinkKeys(sending: keys.writerToReplica, receiving: keys.replicaToWriter)
        )
    }

    private mutating func refuse(_ refusal: HandshakeRefusal, nodeID: String?) -> Action {
        state = .finished
        return .refuse(refusal, nodeID: nodeID, reply: .refused(reason: refusal.wireText))
    }
}
