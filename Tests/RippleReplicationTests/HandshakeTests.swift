import Testing

@testable import RippleReplication

@Suite struct HandshakeTests {
    let secret = Array("correct horse battery staple".utf8)
    let nonceA: [UInt8] = Array(repeating: 0xA1, count: 32)
    let nonceB: [UInt8] = Array(repeating: 0xB2, count: 32)

    func writer(nonce: [UInt8]) -> WriterHandshake {
        WriterHandshake(clusterID: "prod", secret: secret, nonceSource: { nonce })
    }

    @Test func rightSecretIsAccepted() {
        var writer = writer(nonce: nonceA)
        var replica = ReplicaHandshake(clusterID: "prod", nodeID: "r1", secret: secret, appliedTimestamp: 300)

        #expect(writer.receive(replica.start()) == .send(.challenge(nonce: nonceA)))
        guard case .send(let proof) = replica.receive(.challenge(nonce: nonceA)) else {
            Issue.record("replica did not answer the challenge")
            return
        }
        #expect(proof == .proof(hmac: HandshakeProof.make(secret: secret, nonce: nonceA, clusterID: "prod", nodeID: "r1")))
        #expect(writer.receive(proof) == .lookUpLatestTimestamp)
        let accept = writer.latestTimestampFound(500)
        #expect(accept == .accept(nodeID: "r1", appliedTimestamp: 300, reply: .accepted(latestTimestamp: 500)))
        #expect(replica.receive(.accepted(latestTimestamp: 500)) == .accepted(latestTimestamp: 500))
    }

    @Test func wrongSecretIsRefusedPermanently() {
        var writer = writer(nonce: nonceA)
        var replica = ReplicaHandshake(clusterID: "prod", nodeID: "r1", secret: Array("guess".utf8), appliedTimestamp: 0)
        _ = writer.receive(replica.start())
        guard case .send(let proof) = replica.receive(.challenge(nonce: nonceA)) else {
            Issue.record("replica did not answer the challenge")
            return
        }
        let refusal = writer.receive(proof)
        #expect(refusal == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "authentication failed")))
        #expect(replica.receive(.refused(reason: "authentication failed")) == .refused(reason: "authentication failed", permanent: true))
    }

    @Test func wrongClusterIsRefusedAtHello() {
        var writer = writer(nonce: nonceA)
        var replica = ReplicaHandshake(clusterID: "staging", nodeID: "r1", secret: secret, appliedTimestamp: 0)
        #expect(writer.receive(replica.start()) == .refuse(.wrongClusterID, nodeID: "r1", reply: .refused(reason: "wrong cluster id")))
        #expect(replica.receive(.refused(reason: "wrong cluster id")) == .refused(reason: "wrong cluster id", permanent: true))
    }

    @Test func proofForAnotherNonceIsRefused() {
        let replayed = HandshakeProof.make(secret: secret, nonce: nonceA, clusterID: "prod", nodeID: "r1")
        var writer = writer(nonce: nonceB)
        #expect(writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0)) == .send(.challenge(nonce: nonceB)))
        #expect(
            writer.receive(.proof(hmac: replayed)) == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "authentication failed")))
    }

    @Test func proofForAnotherNodeIsRefused() {
        let borrowed = HandshakeProof.make(secret: secret, nonce: nonceA, clusterID: "prod", nodeID: "r2")
        var writer = writer(nonce: nonceA)
        _ = writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0))
        #expect(
            writer.receive(.proof(hmac: borrowed)) == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "authentication failed")))
    }

    @Test func truncatedProofIsRefused() {
        let proof = HandshakeProof.make(secret: secret, nonce: nonceA, clusterID: "prod", nodeID: "r1")
        var writer = writer(nonce: nonceA)
        _ = writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0))
        #expect(
            writer.receive(.proof(hmac: Array(proof.prefix(16))))
                == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "authentication failed")))
    }

    @Test func messagesOutOfTurnAreRefused() {
        var early = writer(nonce: nonceA)
        #expect(
            early.receive(.proof(hmac: []))
                == .refuse(.protocolViolation, nodeID: nil, reply: .refused(reason: HandshakeRefusal.protocolViolation.rawValue)))

        var repeated = writer(nonce: nonceA)
        _ = repeated.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0))
        #expect(
            repeated.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 0))
                == .refuse(.protocolViolation, nodeID: "r1", reply: .refused(reason: HandshakeRefusal.protocolViolation.rawValue)))

        var finished = writer(nonce: nonceA)
        _ = finished.receive(.hello(clusterID: "staging", nodeID: "r1", appliedTimestamp: 0))
        #expect(
            finished.receive(.proof(hmac: []))
                == .refuse(.protocolViolation, nodeID: nil, reply: .refused(reason: HandshakeRefusal.protocolViolation.rawValue)))
    }

    @Test func replicaAheadOfTheWriterIsRefusedButMayRetry() {
        var writer = writer(nonce: nonceA)
        _ = writer.receive(.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 900))
        let proof = HandshakeProof.make(secret: secret, nonce: nonceA, clusterID: "prod", nodeID: "r1")
        #expect(writer.receive(.proof(hmac: proof)) == .lookUpLatestTimestamp)
        #expect(
            writer.latestTimestampFound(800) == .refuse(.replicaAhead, nodeID: "r1", reply: .refused(reason: HandshakeRefusal.replicaAhead.rawValue)))

        var replica = ReplicaHandshake(clusterID: "prod", nodeID: "r1", secret: secret, appliedTimestamp: 900)
        _ = replica.start()
        #expect(
            replica.receive(.refused(reason: HandshakeRefusal.replicaAhead.rawValue))
                == .refused(reason: HandshakeRefusal.replicaAhead.rawValue, permanent: false))
    }

    @Test func replicaFailsOnMessagesOutOfTurn() {
        var replica = ReplicaHandshake(clusterID: "prod", nodeID: "r1", secret: secret, appliedTimestamp: 0)
        _ = replica.start()
        #expect(replica.receive(.accepted(latestTimestamp: 1)) == .fail(.unexpectedMessage("accepted during the handshake")))

        var streaming = ReplicaHandshake(clusterID: "prod", nodeID: "r1", secret: secret, appliedTimestamp: 0)
        _ = streaming.start()
        _ = streaming.receive(.challenge(nonce: nonceA))
        #expect(streaming.receive(.commits(previousTimestamp: 0, commits: [])) == .fail(.unexpectedMessage("commits during the handshake")))
    }

    @Test func randomNoncesDiffer() {
        let a = HandshakeProof.randomNonce()
        let b = HandshakeProof.randomNonce()
        #expect(a.count == HandshakeProof.nonceLength)
        #expect(a != b)
    }

    @Test func onlyConfigurationRefusalsArePermanent() {
        #expect(HandshakeRefusal.allCases.filter(\.isPermanent) == [.wrongClusterID, .authenticationFailed])
    }
}
