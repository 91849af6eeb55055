import RippleLog
import Testing

@testable import RippleReplication

/// Failover's fencing in the handshake: a link belongs to one leadership term, named in the
/// hello and bound into every proof and frame key, so a replaced writer is never followed and
/// a replica of the new term is never served by the old writer.
@Suite struct TermFencingTests {
    let secret = Array("correct horse battery staple".utf8)
    let writerNonce: [UInt8] = Array(repeating: 0xA1, count: 32)
    let replicaNonce: [UInt8] = Array(repeating: 0xC3, count: 32)

    /// Runs hello → challenge → proof; returns the writer (to finish with) and its verdict on the proof.
    func handshake(writerTerm: UInt64, replicaTerm: UInt64?, applied: CommitTimestamp = 300) -> (WriterHandshake, WriterHandshake.Action) {
        var writer = WriterHandshake(clusterID: "prod", secret: secret, nonceSource: { [writerNonce] in writerNonce }, term: writerTerm)
        var replica = ReplicaHandshake(
            clusterID: "prod", nodeID: "r1", secret: secret, appliedTimestamp: applied, nonce: replicaNonce, term: replicaTerm ?? writerTerm)
        guard case .send(let challenge) = writer.receive(replica.start()), case .send(let proof) = replica.receive(challenge) else {
            return (writer, .lookUpLatestTimestamp)
        }
        let verdict = writer.receive(proof)
        return (writer, verdict)
    }

    @Test func aWriterOfAnOlderTermIsRefusedByAReplicaOfTheNewOne() {
        let (_, verdict) = handshake(writerTerm: 3, replicaTerm: 4)
        #expect(verdict == .refuse(.termMismatch, nodeID: "r1", reply: .refused(reason: "the writer leads another term")))
    }

    @Test func aReplicaStillOnAnOlderTermIsRefusedByTheNewWriter() {
        let (_, verdict) = handshake(writerTerm: 5, replicaTerm: 4)
        #expect(verdict == .refuse(.termMismatch, nodeID: "r1", reply: .refused(reason: "the writer leads another term")))
    }

    /// A standalone `replica` or `scheduler` process knows no etcd and follows with term 0: a
    /// failover writer (term 1 and up) refuses it before it counts as connected, so it never
    /// joins a sync set — that, not an observer key, keeps the writer from waiting on a node
    /// that never stands for election (docs/operations.md, "Writer failover").
    @Test func aStandaloneReplicaIsRefusedByEveryFailoverWriter() {
        for writerTerm: UInt64 in [1, 2, 1_000] {
            let (_, verdict) = handshake(writerTerm: writerTerm, replicaTerm: 0)
            #expect(verdict == .refuse(.termMismatch, nodeID: "r1", reply: .refused(reason: "the writer leads another term")))
        }
    }

    @Test func theTermIsInTheProofSoAWriterCannotClaimAnother() {
        var writer = WriterHandshake(clusterID: "prod", secret: secret, nonceSource: { [writerNonce] in writerNonce }, term: 4)
        var replica = ReplicaHandshake(clusterID: "prod", nodeID: "r1", secret: secret, appliedTimestamp: 300, nonce: replicaNonce, term: 4)
        guard case .send(let challenge) = writer.receive(replica.start()), case .send(let proof) = replica.receive(challenge) else {
            Issue.record("handshake did not reach the proof")
            return
        }
        #expect(writer.receive(proof) == .lookUpLatestTimestamp)
        // A writer of term 3 answering the same transcript: its proof covers term 3, not 4.
        let old = HandshakeTranscript(clusterID: "prod", nodeID: "r1", appliedTimestamp: 300, replicaNonce: replicaNonce, writerNonce: writerNonce, term: 3)
        let forged = HandshakeProof.writer(secret: secret, old, latestTimestamp: 500)
        #expect(replica.receive(.accepted(latestTimestamp: 500, proof: forged)) == .fail(.writerNotAuthenticated))
    }

    @Test func underFailoverAReplicaAheadOfTheWriterIsAcceptedToBeGivenASnapshot() {
        // An old writer rejoining with an unacknowledged tail past the new writer's newest commit.
        var (writer, verdict) = handshake(writerTerm: 2, replicaTerm: nil, applied: 900)
        #expect(verdict == .lookUpLatestTimestamp)
        guard case .accept(_, let applied, _, _, _) = writer.latestTimestampFound(500) else {
            Issue.record("the writer refused a replica ahead of it under failover")
            return
        }
        #expect(applied == 900)
        // Without failover (term 0) the same replica is refused.
        (writer, verdict) = handshake(writerTerm: 0, replicaTerm: nil, applied: 900)
        #expect(verdict == .lookUpLatestTimestamp)
        #expect(writer.latestTimestampFound(500) == .refuse(.replicaAhead, nodeID: "r1", reply: .refused(reason: "the replica is ahead of the writer")))
    }

    @Test func theHelloCarriesTheTermOnTheWire() throws {
        let hello = ReplicationMessage.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 7, nonce: replicaNonce, term: 42, appliedTerm: 41)
        #expect(try ReplicationMessage(frame: hello.frame()) == hello)
    }

    /// A replica from before commit terms sends its hello without the applied commit's term
    /// (and could not read the `commits` this writer sends): refused, saying so.
    @Test func aHelloWithoutTheAppliedTermIsRefusedNamingTheUpgrade() {
        var frame = ReplicationMessage.hello(clusterID: "prod", nodeID: "r1", appliedTimestamp: 7, nonce: replicaNonce, term: 42).frame()
        frame.payload = frame.payload.getSlice(at: frame.payload.readerIndex, length: frame.payload.readableBytes - 8)!
        #expect(throws: ReplicationError.malformedMessage(
            "hello has no term for its applied commit: the replica runs an older Ripple than the writer; upgrade it")) {
            try ReplicationMessage(frame: frame)
        }
    }

    /// The applied commit's term is proved with its timestamp: nothing on the path can make a
    /// forked replica pass for one that holds the writer's commit (and so skip its snapshot).
    @Test func theAppliedTermIsInTheProof() {
        var writer = WriterHandshake(clusterID: "prod", secret: secret, nonceSource: { [writerNonce] in writerNonce }, term: 4)
        var replica = ReplicaHandshake(
            clusterID: "prod", nodeID: "r1", secret: secret, appliedTimestamp: 300, nonce: replicaNonce, term: 4, appliedTerm: 3)
        guard case .hello(let cluster, let node, let applied, let nonce, let term, _) = replica.start(),
            case .send(let challenge) = writer.receive(.hello(clusterID: cluster, nodeID: node, appliedTimestamp: applied, nonce: nonce, term: term, appliedTerm: 4)),
            case .send(let proof) = replica.receive(challenge)
        else {
            Issue.record("handshake did not reach the proof")
            return
        }
        #expect(writer.receive(proof) == .refuse(.authenticationFailed, nodeID: "r1", reply: .refused(reason: "refused")))
    }
}
