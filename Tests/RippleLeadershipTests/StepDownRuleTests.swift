import Foundation
import Testing

@testable import RippleLeadership

@Suite struct StepDownRuleTests {
    @Test func writerStopsAQuarterOfTheTTLBeforeEtcdCanExpireTheLease() {
        let rule = StepDownRule(ttl: .seconds(1))
        let sent = ContinuousClock.Instant.now
        #expect(rule.margin == .milliseconds(250))
        #expect(rule.deadline(renewalSentAt: sent) == sent.advanced(by: .milliseconds(750)))
    }

    @Test func shortTTLsKeepTheMinimumMargin() {
        let rule = StepDownRule(ttl: .milliseconds(200))
        #expect(rule.margin == .milliseconds(100))
    }

    @Test func renewalsComeThreeTimesPerTTLSoTwoMayBeLost() {
        let rule = StepDownRule(ttl: .seconds(3))
        #expect(rule.renewalInterval == .seconds(1))
        // After two lost renewals the third still comes before the deadline.
        #expect(rule.renewalInterval * 3 > rule.ttl - rule.margin)
        #expect(rule.renewalInterval * 2 < rule.ttl - rule.margin)
    }
}

@Suite struct CommitPermitTests {
    let rule = StepDownRule(ttl: .seconds(1))

    @Test func aRenewalSentInTimeMovesTheDeadlineOn() {
        let start = ContinuousClock.Instant.now
        var permit = CommitPermit(deadline: rule.deadline(renewalSentAt: start))
        let admitted1 = permit.admit(at: start.advanced(by: .milliseconds(500)))
        #expect(admitted1)
        permit.renewed(sentAt: start.advanced(by: .milliseconds(600)), rule: rule)
        #expect(permit.deadline == start.advanced(by: .milliseconds(1_350)))
        let admitted5 = permit.admit(at: start.advanced(by: .milliseconds(1_000)))
        #expect(admitted5)
    }

    @Test func aRenewalSentAfterTheDeadlineRevivesNothing() {
        let start = ContinuousClock.Instant.now
        var permit = CommitPermit(deadline: rule.deadline(renewalSentAt: start))
        permit.renewed(sentAt: start.advanced(by: .milliseconds(800)), rule: rule)
        #expect(permit.deadline == start.advanced(by: .milliseconds(750)))
        let admitted2 = permit.admit(at: start.advanced(by: .milliseconds(800)))
        #expect(admitted2 == false)
    }

    /// The failover chaos round's bug: a renewal sent in time but answered after a refusal
    /// reopened commits, and the writer went on without the group it had refused.
    @Test func theFirstRefusalIsFinalEvenIfALateAnswerToATimelyRenewalArrives() {
        let start = ContinuousClock.Instant.now
        var permit = CommitPermit(deadline: rule.deadline(renewalSentAt: start))
        let sent = start.advanced(by: .milliseconds(700))
        let admitted3 = permit.admit(at: start.advanced(by: .milliseconds(760)))
        #expect(admitted3 == false)
        permit.renewed(sentAt: sent, rule: rule)
        #expect(permit.lapsed)
        #expect(permit.deadline == start.advanced(by: .milliseconds(750)))
        let admitted4 = permit.admit(at: start.advanced(by: .milliseconds(900)))
        #expect(admitted4 == false)
    }
}

@Suite struct ElectionTests {
    let everyone: (String) -> Bool = { _ in true }

    @Test func highestDurableTimestampWins() {
        let candidates = [
            CandidatePosition(nodeID: "r1", durableTimestamp: 90, term: 3),
            CandidatePosition(nodeID: "r2", durableTimestamp: 120, term: 3),
            CandidatePosition(nodeID: "r3", durableTimestamp: 100, term: 3),
        ]
        #expect(Election.winner(among: candidates, eligible: everyone)?.nodeID == "r2")
    }

    @Test func newerTermBeatsAHigherTimestampOfAnOlderTerm() {
        // r1 holds an old writer's unacknowledged tail; r2 followed the newer writer.
        let candidates = [
            CandidatePosition(nodeID: "r1", durableTimestamp: 500, term: 2),
            CandidatePosition(nodeID: "r2", durableTimestamp: 300, term: 3),
        ]
        #expect(Election.winner(among: candidates, eligible: everyone)?.nodeID == "r2")
    }

    @Test func tiesGoToTheSmallestNodeID() {
        let candidates = [
            CandidatePosition(nodeID: "r2", durableTimestamp: 100, term: 1),
            CandidatePosition(nodeID: "r1", durableTimestamp: 100, term: 1),
        ]
        #expect(Election.winner(among: candidates, eligible: everyone)?.nodeID == "r1")
    }

    /// A candidate record in etcd keeps its JSON: the durable position is the bare nanosecond
    /// count, so nodes of an older build read it (a keyed `{"nanoseconds": …}` would not).
    @Test func aCandidateRecordKeepsItsJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let position = CandidatePosition(nodeID: "r1", durableTimestamp: 1_700_000_000_123_456_789, term: 3)
        let json = #"{"durableTimestamp":1700000000123456789,"nodeID":"r1","term":3}"#
        #expect(String(decoding: try encoder.encode(position), as: UTF8.self) == json)
        #expect(try JSONDecoder().decode(CandidatePosition.self, from: Data(json.utf8)) == position)
    }

    @Test func anOutOfSyncReplicaIsNeverPromoted() {
        let candidates = [
            CandidatePosition(nodeID: "behind", durableTimestamp: 900, term: 1),
            CandidatePosition(nodeID: "synced", durableTimestamp: 800, term: 1),
        ]
        #expect(Election.winner(among: candidates, eligible: { $0 == "synced" })?.nodeID == "synced")
        #expect(Election.winner(among: candidates, eligible: { _ in false }) == nil)
    }
}

@Suite struct TermFenceTests {
    @Test func olderTermsAreRefusedNewerOnesRemembered() {
        var fence = TermFence(newestTerm: 4)
        #expect(fence.admit(3) == false)
        #expect(fence.admit(4) == true)
        #expect(fence.admit(6) == true)
        #expect(fence.newestTerm == 6)
        #expect(fence.admit(5) == false)
    }
}

@Suite struct LeaderRecordTests {
    @Test func roundTripsThroughTheKeysJSON() {
        let record = LeaderRecord(nodeID: "n1", clientAddress: "127.0.0.1:3210", replicationAddress: "127.0.0.1:7100", term: 7)
        #expect(LeaderRecord(decoding: record.encoded) == record)
        #expect(LeaderRecord(decoding: Array("not json".utf8)) == nil)
    }

    @Test func prefixEndCoversEveryKeyUnderThePrefix() {
        #expect(EtcdClient.prefixEnd("/ripple/c/candidates/") == "/ripple/c/candidates0")
    }
}
