import Crypto

/// The replica's side of the handshake, as a pure state machine: send `hello`, feed it the
/// writer's messages, carry out the actions it returns.
public struct ReplicaHandshake: Sendable {
    /// What the connection must do next.
    public enum Action: Sendable, Equatable {
        /// Send this message (the proof) and wait for the writer's verdict.
        case send(ReplicationMessage)
        /// The link is open; commits after the hello's applied timestamp follow.
        case accepted(latestTimestamp: UInt64)
        /// The writer refused; `permanent` when retrying cannot help (wrong secret or cluster id).
        case refused(reason: String, permanent: Bool)
        /// The writer broke the protocol; close the link.
        case fail(ReplicationError)
    }

    private enum State: Sendable {
        case idle
        case awaitingChallenge
        case awaitingVerdict
        case finished
    }

    private let clusterID: String
    private let nodeID: String
    private let key: SymmetricKey
    private let appliedTimestamp: UInt64
    private var state = State.idle

    public init(clusterID: String, nodeID: String, secret: [UInt8], appliedTimestamp: UInt64) {
        self.clusterID = clusterID
        self.nodeID = nodeID
        self.key = SymmetricKey(data: secret)
        self.appliedTimestamp = appliedTimestamp
    }

    /// The opening `hello`, to send once right after connecting.
    public mutating func start() -> ReplicationMessage {
        precondition(state == .idle, "ReplicaHandshake.start() called twice")
        state = .awaitingChallenge
        return .hello(clusterID: clusterID, nodeID: nodeID, appliedTimestamp: appliedTimestamp)
    }

    /// Feeds one message from the writer.
    public mutating func receive(_ message: ReplicationMessage) -> Action {
        switch (state, message) {
        case (.awaitingChallenge, .challenge(let nonce)):
            state = .awaitingVerdict
            return .send(.proof(hmac: HandshakeProof.make(key: key, nonce: nonce, clusterID: clusterID, nodeID: nodeID)))
        case (.awaitingVerdict, .accepted(let latest)):
            state = .finished
            return .accepted(latestTimestamp: latest)
        case (.awaitingChallenge, .refused(let reason)), (.awaitingVerdict, .refused(let reason)):
            state = .finished
            return .refused(reason: reason, permanent: HandshakeRefusal(rawValue: reason)?.isPermanent ?? false)
        default:
            state = .finished
            return .fail(.unexpectedMessage("\(message.kind) during the handshake"))
        }
    }
}
