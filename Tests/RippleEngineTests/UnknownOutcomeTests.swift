import RippleEngine
import Testing

/// The ways a mutation's outcome becomes unknown, each as the client reads it. Clients
/// (the chaos suite's workload among them) match "may or may not have been applied", so the
/// text is pinned here, once per case.
@Suite struct UnknownOutcomeTests {
    @Test func aDroppedLinkToTheWriterSaysResendingIsDeduplicatedByTheWriter() {
        let error = FunctionError.unknownOutcome(.linkLost(reason: "connection reset"))
        #expect(error.kind == .unavailable)
        #expect(error.unknownOutcome == .linkLost(reason: "connection reset"))
        #expect(
            error.message
                == "The writer could not be reached or the link dropped before it answered (connection reset): the mutation may or may "
                + "not have been applied. Resending the same request (same session and request id) is deduplicated by the writer.")
    }

    @Test func aCommitNeverAppliedOnThisReplicaNamesItsTimestampAndTheWait() {
        let error = FunctionError.unknownOutcome(.notAppliedHere(ts: 42, timeout: .seconds(30)))
        #expect(error.kind == .unavailable)
        #expect(
            error.message
                == "The writer committed the mutation at 42, but this node did not apply it within 30.0 seconds (the writer may have "
                + "failed over): the mutation may or may not have been applied. Resending the same request (same session and request "
                + "id) is deduplicated.")
    }

    @Test func aLapsedLeadershipPromisesNothingAboutAResend() {
        let error = FunctionError.unknownOutcome(.leadershipLapsed(reason: "fenced"))
        #expect(error.kind == .unavailable)
        #expect(error.message == "fenced while the mutation was being committed: the mutation may or may not have been applied")
    }

    @Test func aCommitTheSyncSetDidNotAcknowledgeInTimeIsDurableOnTheWriterOnly() {
        let error = FunctionError.unknownOutcome(.notReplicated(ts: 42, reason: "the sync set is waiting for b (disconnected)", timeout: .seconds(10)))
        #expect(error.kind == .unavailable)
        #expect(
            error.message
                == "no replica in sync: commit 42 is durable on the writer, but the sync set is waiting for b (disconnected) within 10.0 "
                + "seconds (--sync-timeout-seconds): the mutation may or may not have been applied. Resending the same request (same "
                + "session and request id) is deduplicated.")
    }

    @Test func aFailedCommitMayBeRecoveredFromTheWriteAheadLog() {
        let error = FunctionError.unknownOutcome(.commitFailed)
        #expect(error.kind == .unavailable)
        #expect(
            error.message
                == "The writer's COMMIT failed, and the group may still be in its write-ahead log, recovered when the node restarts: the "
                + "mutation may or may not have been applied. Resending the same request (same session and request id) is deduplicated.")
    }

    @Test func anErrorBuiltFromWordsHasNoUnknownOutcome() {
        #expect(FunctionError(.unavailable, "the mutation may or may not have been applied").unknownOutcome == nil)
    }
}
