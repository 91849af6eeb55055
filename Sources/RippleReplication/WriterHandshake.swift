import Crypto

/// The writer's side of the handshake, as a pure state machine: feed it the replica's messages,
/// carry out the actions it returns.
///
/// `hello` → `.send(challenge)`; `proof` → `.lookUpLatestTimestamp`; then
/// `latestTimestampFound(_:)` → `.accept` (send `accepted`, stream from the replica's applied
/// timestamp) — or `.refuse` at any step (send `refused`, log, close).
public struct WriterHandshake: Sendable {
    /// What the connection must do next.
    public enum Action: Sendable, Equatable {
        /// Send this message and wait for the next one.
        case send(ReplicationMessage)
        /// The replica proved itself: find the newest commit timestamp and call `latestTimestampFound(_:)`.
        case lookUpLatestTimestamp
        /// Send `reply` (`accepted`), then stream commits after `appliedTimestamp` to `nodeID`.
        case accept(nodeID: String, appliedTimestamp: UInt64, reply: ReplicationMessage)
        /// Send `reply` (`refused`), log `refusal` with `nodeID` (when known), close the link.
        case refuse(HandshakeRefusal, nodeID: String?, reply: ReplicationMessage)
    }

    private enum State: Sendable {
        case awaitingHello
        case awaitingProof(nodeID: String, appliedTimestamp: UInt64, nonce: [UInt8])
        case awaitingLatestTimestamp(nodeID: String, appliedTimestamp: UInt64)
        case finished
    }

    private let clusterID: String
    private let key: SymmetricKey
    private let nonceSource: @Sendable () -> [UInt8]
    private var state = State.awaitingHello

    /// - Parameter nonceSource: fresh challenge bytes per handshake; tests inject fixed ones.
    public init(clusterID: String, secret: [UInt8], nonceSource: @escaping @Sendable () -> [UInt8] = HandshakeProof.randomNonce) {
        self.clusterID = clusterID
        self.key = SymmetricKey(data: secret)
        self.nonceSource = nonceSource
    }

    /// Feeds one message from the replica.
    public mutating func receive(_ message: ReplicationMessage) -> Action {
        switch (state, message) {
        case (.awaitingHello, .hello(let theirCluster, let nodeID, let applied)):
            guard theirCluster == clusterID else { return refuse(.wrongClusterID, nodeID: nodeID) }
            let nonce = nonceSource()
            state = .awaitingProof(nodeID: nodeID, appliedTimestamp: applied, nonce: nonce)
            return .send(.challenge(nonce: nonce))
        case (.awaitingProof(let nodeID, let applied, let nonce), .proof(let hmac)):
            guard HandshakeProof.verify(hmac, key: key, nonce: nonce, clusterID: clusterID, nodeID: nodeID) else {
                return refuse(.authenticationFailed, nodeID: nodeID)
            }
            state = .awaitingLatestTimestamp(nodeID: nodeID, appliedTimestamp: applied)
            return .lookUpLatestTimestamp
        case (.awaitingProof(let nodeID, _, _), _), (.awaitingLatestTimestamp(let nodeID, _), _):
            return refuse(.protocolViolation, nodeID: nodeID)
        case (.awaitingHello, _), (.finished, _):
            return refuse(.protocolViolation, nodeID: nil)
        }
    }

    /// Completes a handshake after `.lookUpLatestTimestamp`.
    public mutating func latestTimestampFound(_ latest: UInt64) -> Action {
        guard case .awaitingLatestTimestamp(let nodeID, let applied) = state else { return refuse(.protocolViolation, nodeID: nil) }
        guard applied <= latest else { return refuse(.replicaAhead, nodeID: nodeID) }
        state = .finished
        return .accept(nodeID: nodeID, appliedTimestamp: applied, reply: .accepted(latestTimestamp: latest))
    }

    private mutating func refuse(_ refusal: HandshakeRefusal, nodeID: String?) -> Action {
        state = .finished
        return .refuse(refusal, nodeID: nodeID, reply: .refused(reason: refusal.rawValue))
    }
}
