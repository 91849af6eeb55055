import RippleLog
import Testing

@testable import RippleReplication

/// The handshake as two pure state machines talking to each other, no I/O: both sides prove the
/// cluster secret over both nonces, and derive the same per-direction frame keys.
@Suite struct HandshakeTests {
    let secret = Array("correct horse battery staple".utf8)
    let nonceA: [UInt8] = Array(repeating: 0xA1, count: 32)
    let nonceB: [UInt8] = Array(repeating: 0xB2, count: 32)
    let replicaNonce: [UInt8] = Array(repeating: 0xC3, count: 32)

    func writer(nonce: [UInt8]) -> WriterHandshake {
        WriterHandshake(clusterID: "prod", secret: secret, nonceSource: { nonce })
    }

    func replica(cluster: String = "prod", secret: [UInt8]? = nil, applied: CommitTimestamp = 300) -> ReplicaHandshake {
        ReplicaHandshake(clusterID: cluster, nodeID: "r1", secret: secret ?? self.secret, appliedTimestamp: applied, nonce: replicaNonce)
    }

    func transcript(applied: CommitTimestamp = 300, writerNonce: [UInt8]? = nil) -> HandshakeTranscript {
        HandshakeTranscript(clusterID: "prod", nodeID: "r1", appliedTimestamp: applied, replicaNonce: replicaNonce, writerNonce: writerNonce ?? nonceA)
    }

    /// Runs hello → challenge → proof through both machines; returns the writer's verdict.
    func exchange(_ writer: inout WriterHandshake, _ replica: inout ReplicaHandshake) -> WriterHandshake.Action {
        guard case .send(let challenge) = writer.receive(replica.start()) else { return .lookUpLatestTimestamp }
        guard case .send(let proof) = replica.receive(challenge) else { return .lookUpLatestTimestamp }
        return writer.receive(proof)
    }

    @Test func bothSidesProveTheSecretAndAgreeOnFrameKeys() {
        var writer = writer(nonce: nonceA)
        var replica = replica()
        #expect(exchange(&writer, &replica) == .lookUpLatestTimestamp)
        guard case .accept(let nodeID, let applied, _, let reply, let writerKeys) = writer.latestTimestampFound(500) else {
            Issue.record("the writer did not accept")
            return
        }
        #expect(nodeID == "r1")
        #expect(applied == 300)
        #expect(reply == .accepted(latestTimestamp: 500, proof: HandshakeProof.writer(secret: secret, transcript(), latestTimestamp: 500)))
        guard case .accepted(let latest, let replicaKeys) = replica.receive(reply) else {
            Issue.record("the replica did not accept the writer's proof")
            return
        }
        #expect(latest == 500)
        #expect(replicaKeys == LinkKeys(sending: writerKeys.receiving, receiving: writerKeys.sending))
        #expect(writerKeys.sending != writerKeys.receiving)
    }

    @Test func aWriterWithoutTheSecretIsNotFollowed() {
        var replica = replica()
        _ = replica.start()
        _ = replica.receive(.challenge(nonce: nonceA))
        let impostor = HandshakeProof.writer(secret: Array("guess".utf8), transcript(), latestTimestamp: 500)
        #expect(replica.receive(.accepted(latestTimestamp: 500, proof: impostor)) == .fail(.writerNotAuthenticated))
    }

    @Test func aWriterProofCannotAnnounceAnotherTimestamp() {
        var replica = replica()
        _ = replica.start()
        _ = replica.receive(.challenge(nonce: nonceA))
        let proofFor500 = HandshakeProof.writer(secret: secret, transcript(), latestTimestamp: 500)
        #expect(replica.receive(.accepted(latestTimestamp: 900, proof: proofFor500)) == .fail(.writerNotAuthenticated))
    }

    @Test func aReplicaProofIsNotAWriterProof() {
        var replica = replica()
        _ = replica.start()
        _ = replica.receive(.challenge(nonce: nonceA))
        let reflected = HandshakeProof.replica(secret: secret, transcript())
        #expect(replica.receive(.accepted(latestTimestamp: 500, proof: reflected)) == .fail(.writerNotAuthenticated))
    }

    @Test func wrongSecretIsRefusedWithoutSayingWhy() {
        var writer = writer(nonce: nonceA)
        var replica = replica(secret: Array("guess".utf8))
        #expect(exchange(&writer, &replica) == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "refused")))
        #expect(replica.receive(.refused(reason: "refused")) == .refused(reason: "refused"))
    }

    @Test func wrongClusterIsChallengedThenRefusedLikeAWrongSecret() {
        var writer = writer(nonce: nonceA)
        var replica = replica(cluster: "staging")
        #expect(writer.receive(replica.start()) == .send(.challenge(nonce: nonceA)))
        guard case .send(let proof) = replica.receive(.challenge(nonce: nonceA)) else {
            Issue.record("replica did not answer the challenge")
            return
        }
        #expect(writer.receive(proof) == .refuse(.wrongClusterID, nodeID: "r1", reply: .refused(reason: "refused")))
    }

    @Test func proofForAnotherNonceIsRefused() {
        let replayed = HandshakeProof.replica(secret: secret, transcript(writerNonce: nonceA))
        var writer = writer(nonce: nonceB)
        #expect(writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 300, nonce: replicaNonce)) == .send(.challenge(nonce: nonceB)))
        #expect(writer.receive(.proof(hmac: replayed)) == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "refused")))
    }

    @Test func proofForAnotherPositionIsRefused() {
        let proof = HandshakeProof.replica(secret: secret, transcript(applied: 300))
        var writer = writer(nonce: nonceA)
        _ = writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0, nonce: replicaNonce))
        #expect(writer.receive(.proof(hmac: proof)) == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "refused")))
    }

    @Test func proofForAnotherNodeIsRefused() {
        var borrowed = transcript()
        borrowed.nodeID = "r2"
        var writer = writer(nonce: nonceA)
        _ = writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 300, nonce: replicaNonce))
        #expect(
            writer.receive(.proof(hmac: HandshakeProof.replica(secret: secret, borrowed)))
                == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "refused")))
    }

    @Test func fieldBoundariesAreBoundIntoTheProof() {
        let a = HandshakeTranscript(clusterID: "ab", nodeID: "c", appliedTimestamp: 0, replicaNonce: replicaNonce, writerNonce: nonceA)
        let b = HandshakeTranscript(clusterID: "a", nodeID: "bc", appliedTimestamp: 0, replicaNonce: replicaNonce, writerNonce: nonceA)
        #expect(HandshakeProof.replica(secret: secret, a) != HandshakeProof.replica(secret: secret, b))
    }

    @Test func truncatedProofIsRefused() {
        let proof = HandshakeProof.replica(secret: secret, transcript())
        var writer = writer(nonce: nonceA)
        _ = writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 300, nonce: replicaNonce))
        #expect(writer.receive(.proof(hmac: Array(proof.prefix(16)))) == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "refused")))
    }

    @Test func malformedHellosAreRefused() {
        let longName = String(repeating: "n", count: WriterHandshake.maxNodeIDBytes + 1)
        for hello: ReplicationMessage in [
            .hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0, nonce: Array(replicaNonce.prefix(8))),
            .hello(clusterID: "prod", nodeID: longName, appliedTimestamp: 0, nonce: replicaNonce),
            .hello(clusterID: longName, nodeID: "r1", appliedTimestamp: 0, nonce: replicaNonce),
        ] {
            var writer = writer(nonce: nonceA)
            #expect(writer.receive(hello) == .refuse(.protocolViolation, nodeID: nil, reply: .refused(reason: "refused")))
        }
    }

    @Test func messagesOutOfTurnAreRefused() {
        var early = writer(nonce: nonceA)
        #expect(early.receive(.proof(hmac: [])) == .refuse(.protocolViolation, nodeID: nil, reply: .refused(reason: "refused")))

        var repeated = writer(nonce: nonceA)
        _ = repeated.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0, nonce: replicaNonce))
        #expect(
            repeated.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0, nonce: replicaNonce))
                == .refuse(.protocolViolation, nodeID: "r1", reply: .refused(reason: "refused")))

        var finished = writer(nonce: nonceA)
        var replica = replica(cluster: "staging")
        _ = exchange(&finished, &replica)
        #expect(finished.receive(.proof(hmac: [])) == .refuse(.protocolViolation, nodeID: nil, reply: .refused(reason: "refused")))
    }

    @Test func replicaAheadOfTheWriterIsRefused() {
        var writer = writer(nonce: nonceA)
        var replica = replica(applied: 900)
        #expect(exchange(&writer, &replica) == .lookUpLatestTimestamp)
        #expect(
            writer.latestTimestampFound(800)
                == .refuse(.replicaAhead, nodeID: "r1", reply: .refused(reason: HandshakeRefusal.replicaAhead.rawValue)))
        #expect(
            replica.receive(.refused(reason: HandshakeRefusal.replicaAhead.rawValue)) == .refused(reason: HandshakeRefusal.replicaAhead.rawValue))
    }

    @Test func replicaFailsOnMessagesOutOfTurn() {
        var replica = replica()
        _ = replica.start()
        #expect(replica.receive(.accepted(latestTimestamp: 1, proof: [])) == .fail(.unexpectedMessage("accepted during the handshake")))

        var streaming = self.replica()
        _ = streaming.start()
        _ = streaming.receive(.challenge(nonce: nonceA))
        #expect(streaming.receive(.commits(previousTimestamp: 0, commits: [])) == .fail(.unexpectedMessage("commits during the handshake")))

        var shortNonce = self.replica()
        _ = shortNonce.start()
        #expect(shortNonce.receive(.challenge(nonce: [1, 2, 3])) == .fail(.unexpectedMessage("challenge during the handshake")))
    }

    @Test func randomNoncesDiffer() {
        let a = HandshakeProof.randomNonce()
        let b = HandshakeProof.randomNonce()
        #expect(a.count == HandshakeProof.nonceLength)
        #expect(a != b)
    }

    @Test func refusalsOfAHelloOrProofReadTheSame() {
        #expect(Set([HandshakeRefusal.wrongClusterID, .authenticationFailed, .protocolViolation].map(\.wireText)) == ["refused"])
    }
}
