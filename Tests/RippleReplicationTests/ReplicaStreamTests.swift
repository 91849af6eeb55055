import RippleLog
import RippleStorage
import Testing

@testable import RippleReplication

@Suite struct ReplicaStreamTests {
    @Test func contiguousBatchesAreApplied() throws {
        var stream = ReplicaStream(appliedTimestamp: 10, writerLatestTimestamp: 50)
        let first = [makeCommit(ts: 12), makeCommit(ts: 20)]
        #expect(try stream.receive(.commits(previousTimestamp: 10, commits: first)) == .apply(first))
        #expect(stream.lastReceivedTimestamp == 20)
        #expect(stream.applied(through: 20) == .ack(appliedTimestamp: 20))
        let second = [makeCommit(ts: 55)]
        #expect(try stream.receive(.commits(previousTimestamp: 20, commits: second)) == .apply(second))
        #expect(stream.writerLatestTimestamp == 55)
    }

    @Test func batchNotFollowingTheLastCommitIsAGap() throws {
        var stream = ReplicaStream(appliedTimestamp: 10, writerLatestTimestamp: 50)
        _ = try stream.receive(.commits(previousTimestamp: 10, commits: [makeCommit(ts: 20)]))
        #expect(throws: ReplicationError.gap(lastReceived: 20, previousTimestamp: 25)) {
            try stream.receive(.commits(previousTimestamp: 25, commits: [makeCommit(ts: 30)]))
        }
    }

    @Test func batchRestartingEarlierIsAGap() {
        var stream = ReplicaStream(appliedTimestamp: 10, writerLatestTimestamp: 50)
        #expect(throws: ReplicationError.gap(lastReceived: 10, previousTimestamp: 5)) {
            try stream.receive(.commits(previousTimestamp: 5, commits: [makeCommit(ts: 10)]))
        }
    }

    @Test func resentCommitIsOutOfOrder() {
        var stream = ReplicaStream(appliedTimestamp: 10, writerLatestTimestamp: 50)
        #expect(throws: ReplicationError.outOfOrder(lastReceived: 10, received: 10)) {
            try stream.receive(.commits(previousTimestamp: 10, commits: [makeCommit(ts: 10)]))
        }
    }

    @Test func reorderedCommitsInABatchAreOutOfOrder() {
        var stream = ReplicaStream(appliedTimestamp: 10, writerLatestTimestamp: 50)
        #expect(throws: ReplicationError.outOfOrder(lastReceived: 30, received: 20)) {
            try stream.receive(.commits(previousTimestamp: 10, commits: [makeCommit(ts: 30), makeCommit(ts: 20)]))
        }
    }

    @Test func emptyBatchIsRefused() {
        var stream = ReplicaStream(appliedTimestamp: 10, writerLatestTimestamp: 50)
        #expect(throws: ReplicationError.self) { try stream.receive(.commits(previousTimestamp: 10, commits: [])) }
    }

    @Test func heartbeatIsAnsweredWithTheAppliedPosition() throws {
        var stream = ReplicaStream(appliedTimestamp: 10, writerLatestTimestamp: 10)
        #expect(try stream.receive(.heartbeat(latestTimestamp: 40)) == .send(.ack(appliedTimestamp: 10)))
        #expect(stream.writerLatestTimestamp == 40)
        _ = try stream.receive(.commits(previousTimestamp: 10, commits: [makeCommit(ts: 40)]))
        #expect(throws: ReplicationError.self) { try stream.receive(.heartbeat(latestTimestamp: 30)) }
    }

    @Test func forwardResultsAreDelivered() throws {
        var stream = ReplicaStream(appliedTimestamp: 0, writerLatestTimestamp: 0)
        #expect(try stream.receive(.forwardResult(requestID: 4, payload: [9])) == .deliverForwardResult(requestID: 4, payload: [9]))
    }

    @Test func handshakeMessagesWhileStreamingAreRefused() {
        var stream = ReplicaStream(appliedTimestamp: 0, writerLatestTimestamp: 0)
        #expect(throws: ReplicationError.unexpectedMessage("challenge while streaming commits")) {
            try stream.receive(.challenge(nonce: []))
        }
    }
}

@Suite struct WriterStreamTests {
    @Test func batchesChainByPreviousTimestamp() throws {
        var stream = WriterStream(appliedTimestamp: 5, maxBatchCommits: 1_000)
        let commits = makeCommits(count: 2_500, after: 5)
        let messages = try stream.messages(for: commits)
        #expect(messages.count == 3)
        var replica = ReplicaStream(appliedTimestamp: 5, writerLatestTimestamp: 0)
        var received: [Commit] = []
        for message in messages {
            guard case .apply(let batch) = try replica.receive(message) else {
                Issue.record("not a batch")
                return
            }
            received += batch
        }
        #expect(received == commits)
        #expect(stream.sentTimestamp == commits.last!.ts)
    }

    @Test func batchesAreCutBySize() throws {
        var stream = WriterStream(appliedTimestamp: 0, maxBatchCommits: 1_000, maxBatchBytes: 10_000)
        let commits = (1...10).map { makeCommit(ts: CommitTimestamp(nanoseconds: UInt64($0)), size: 3_000) } + [makeCommit(ts: 11, size: 50_000)]
        let messages = try stream.messages(for: commits)
        let sizes = messages.map { message -> Int in
            guard case .commits(_, let batch) = message else { return -1 }
            return batch.count
        }
        #expect(sizes == [3, 3, 3, 1, 1])
    }

    @Test func sourceOutOfOrderIsAnError() throws {
        var stream = WriterStream(appliedTimestamp: 10)
        #expect(throws: ReplicationError.outOfOrder(lastReceived: 10, received: 10)) {
            try stream.messages(for: [makeCommit(ts: 10)])
        }
    }

    @Test func replicaMessagesAreInterpreted() throws {
        #expect(try WriterStream.interpret(.ack(appliedTimestamp: 3)) == .acknowledged(3))
        #expect(try WriterStream.interpret(.forward(requestID: 2, payload: [1])) == .forward(requestID: 2, payload: [1]))
        #expect(throws: ReplicationError.self) { try WriterStream.interpret(.heartbeat(latestTimestamp: 1)) }
    }

    /// A duplicated forward frame (the chaos suite's proxy, seed 372832604) ran the mutation
    /// twice; now it ends the link.
    @Test func repeatedForwardRequestEndsTheLink() throws {
        var inbound = ReplicaInbound()
        #expect(try inbound.interpret(.forward(requestID: 7, payload: [1])) == .forward(requestID: 7, payload: [1]))
        #expect(try inbound.interpret(.ack(appliedTimestamp: 3)) == .acknowledged(3))
        #expect(throws: ReplicationError.unexpectedMessage("forwarded request 7 after request 7: a repeated or reordered frame")) {
            try inbound.interpret(.forward(requestID: 7, payload: [1]))
        }
        #expect(try inbound.interpret(.forward(requestID: 8, payload: [2])) == .forward(requestID: 8, payload: [2]))
        #expect(throws: ReplicationError.unexpectedMessage("forwarded request 5 after request 8: a repeated or reordered frame")) {
            try inbound.interpret(.forward(requestID: 5, payload: [1]))
        }
    }
}
