import Testing

@testable import RippleReplication

@Suite struct SyncSetTests {
    let start = ContinuousClock.Instant.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start.advanced(by: .milliseconds(milliseconds)) }

    @Test func aReplicaJoinsOnlyOnceItHoldsEverythingTheWriterHadAndTheJoinIsRecorded() {
        var set = SyncSet(required: 1, durable: 100)
        #expect(set.connected("a", at: 50, now: at(0)) == nil)
        // Behind the writer's position at start: not eligible.
        #expect(set.acknowledged("a", through: 90, now: at(1)) == nil)
        #expect(set.acknowledged("a", through: 100, now: at(2)) == .record(["a"]))
        // Acks before the record is in do not acknowledge anything.
        #expect(set.acknowledged("a", through: 120, now: at(3)) == nil)
        #expect(set.synced == 100)
        #expect(set.recorded(["a"], now: at(4)) == nil)
        #expect(set.members == ["a"])
        #expect(set.synced == 120)
    }

    @Test func acksAtOrBelowThePositionAReplicaConnectedWithDoNotCount() {
        // An old writer rejoining says it is at 500: a divergent tail this writer answers with a
        // snapshot; its acks of 500 while installing it say nothing about this log.
        var set = SyncSet(required: 1, durable: 300)
        _ = set.connected("old", at: 500, now: at(0))
        #expect(set.acknowledged("old", through: 500, now: at(1)) == nil)
        #expect(set.proposal == nil)
        #expect(set.acknowledged("old", through: 501, now: at(2)) == .record(["old"]))
    }

    @Test func aReconnectOverlappingTheOldLinkCountsAcksOnlyAboveItsNewPosition() {
        // The writer learns a link's position before any of its acks (`replicaConnected(at:)`).
        // Were the hello's position reported as an ack while the node's previous link was still
        // open, it would count against that link's floor and move `synced` past commits the
        // replica may hold from another writer.
        var set = SyncSet(required: 1, durable: 0)
        _ = set.connected("a", at: 0, now: at(0))
        #expect(set.acknowledged("a", through: 10, now: at(1)) == .record(["a"]))
        _ = set.recorded(["a"], now: at(2))
        #expect(set.synced == 10)
        _ = set.connected("a", at: 500, now: at(3))
        #expect(set.acknowledged("a", through: 500, now: at(4)) == nil)
        #expect(set.synced == 10)
        _ = set.acknowledged("a", through: 510, now: at(5))
        #expect(set.synced == 510)
    }

    @Test func everyMemberMustAcknowledgeACommit() {
        var set = SyncSet(required: 2, durable: 0)
        _ = set.connected("a", at: 0, now: at(0))
        _ = set.connected("b", at: 0, now: at(0))
        #expect(set.acknowledged("a", through: 10, now: at(1)) == .record(["a"]))
        #expect(set.recorded(["a"], now: at(2)) == nil)
        // One member of two: nothing is acknowledged yet.
        #expect(set.synced == 0)
        #expect(set.acknowledged("b", through: 10, now: at(3)) == .record(["a", "b"]))
        _ = set.recorded(["a", "b"], now: at(4))
        #expect(set.synced == 10)
        _ = set.acknowledged("a", through: 20, now: at(5))
        #expect(set.synced == 10)
        _ = set.acknowledged("b", through: 15, now: at(6))
        #expect(set.synced == 15)
    }

    @Test func aDisconnectedMemberIsReplacedInOneRecordedChangeByAReplicaHoldingEverythingAcknowledged() {
        var set = SyncSet(required: 1, durable: 0, members: [])
        _ = set.connected("a", at: 0, now: at(0))
        _ = set.connected("b", at: 0, now: at(0))
        #expect(set.acknowledged("a", through: 10, now: at(1)) == .record(["a"]))
        _ = set.acknowledged("b", through: 8, now: at(1))
        _ = set.recorded(["a"], now: at(2))
        #expect(set.synced == 10)
        // b lacks commit 10, acknowledged already: it cannot replace a.
        #expect(set.disconnected("a", now: at(3)) == nil)
        #expect(set.members == ["a"])
        #expect(set.acknowledged("b", through: 12, now: at(4)) == .record(["b"]))
        // Until b's record is in, a stays in S and nothing new is acknowledged without it.
        #expect(set.members == ["a"])
        #expect(set.synced == 10)
        _ = set.recorded(["b"], now: at(5))
        #expect(set.synced == 12)
    }

    @Test func whileAChangeIsBeingRecordedBothTheOldAndTheNewMemberMustAcknowledge() {
        var set = SyncSet(required: 1, durable: 0, lagLimit: .milliseconds(100))
        _ = set.connected("a", at: 0, now: at(0))
        _ = set.connected("b", at: 0, now: at(0))
        _ = set.acknowledged("a", through: 10, now: at(0))
        _ = set.recorded(["a"], now: at(0))
        _ = set.acknowledged("b", through: 10, now: at(0))
        _ = set.acknowledged("b", through: 20, now: at(10))
        // a trails b from 10 ms on; past the lag limit, b takes its place.
        #expect(set.acknowledged("b", through: 30, now: at(200)) == .record(["b"]))
        // a catching up meanwhile does not acknowledge 30 alone: b's record may win.
        _ = set.acknowledged("a", through: 30, now: at(201))
        #expect(set.synced == 30)
        _ = set.acknowledged("a", through: 40, now: at(202))
        #expect(set.synced == 30)
        _ = set.acknowledged("b", through: 40, now: at(203))
        #expect(set.synced == 40)
    }

    @Test func aMemberThatIsOnlyBrieflyBehindIsKept() {
        var set = SyncSet(required: 1, durable: 0, lagLimit: .seconds(2))
        _ = set.connected("a", at: 0, now: at(0))
        _ = set.connected("b", at: 0, now: at(0))
        _ = set.acknowledged("a", through: 10, now: at(0))
        _ = set.recorded(["a"], now: at(0))
        // After a long idle spell b acks a new commit first: a is behind for a moment only.
        #expect(set.acknowledged("b", through: 20, now: at(60_000)) == nil)
        #expect(set.acknowledged("a", through: 20, now: at(60_001)) == nil)
        #expect(set.acknowledged("b", through: 30, now: at(63_000)) == nil)
        #expect(set.members == ["a"])
    }

    @Test func withNoEligibleReplicaNothingIsAcknowledgedAndTheReasonSaysSo() {
        var set = SyncSet(required: 1, durable: 7)
        #expect(set.synced == 7)
        #expect(set.waitingReason(for: 8) == "1 replica must acknowledge each commit and too few have caught up with commit 7 to join the sync set")
        _ = set.connected("a", at: 0, now: at(0))
        _ = set.acknowledged("a", through: 7, now: at(0))
        _ = set.recorded(["a"], now: at(0))
        _ = set.disconnected("a", now: at(1))
        #expect(set.waitingReason(for: 8) == "the sync set is waiting for a (disconnected)")
    }

    @Test func aNodeFoundNotToStandIsNeverProposedAgain() {
        var set = SyncSet(required: 1, durable: 0)
        _ = set.connected("scheduler", at: 0, now: at(0))
        _ = set.connected("b", at: 0, now: at(0))
        #expect(set.acknowledged("scheduler", through: 5, now: at(1)) == .record(["scheduler"]))
        #expect(set.recordFailed(excluding: ["scheduler"], now: at(2)) == nil)
        #expect(set.acknowledged("scheduler", through: 6, now: at(3)) == nil)
        #expect(set.acknowledged("b", through: 6, now: at(4)) == .record(["b"]))
    }

    @Test func aFailedRecordIsProposedAgainOnTheNextEvent() {
        var set = SyncSet(required: 1, durable: 0)
        _ = set.connected("a", at: 0, now: at(0))
        #expect(set.acknowledged("a", through: 5, now: at(1)) == .record(["a"]))
        #expect(set.recordFailed(now: at(2)) == nil)
        #expect(set.acknowledged("a", through: 6, now: at(3)) == .record(["a"]))
    }

    @Test func asynchronousReplicationNeverProposes() {
        var set = SyncSet(required: 0, durable: 0)
        _ = set.connected("a", at: 0, now: at(0))
        #expect(set.acknowledged("a", through: 5, now: at(1)) == nil)
    }
}
