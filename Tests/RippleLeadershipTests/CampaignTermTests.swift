import Testing

@testable import RippleLeadership

/// A campaign's term is above etcd's term key and above every term the node holds commits of,
/// so a term key that went back (etcd wiped or restored) never hands out a used term again.
@Suite struct CampaignTermTests {
    @Test func theNextTermFollowsEtcdsTermKeyWhenItIsAheadOfTheNode() {
        #expect(Leadership.nextTerm(etcdTerm: 7, appliedTerm: 5) == 8)
        #expect(Leadership.nextTerm(etcdTerm: 0, appliedTerm: 0) == 1)
    }

    @Test func aTermKeyThatWentBackIsSkippedPastTheNodesAppliedTerm() {
        #expect(Leadership.nextTerm(etcdTerm: 0, appliedTerm: 5) == 6)
        #expect(Leadership.nextTerm(etcdTerm: 5, appliedTerm: 5) == 6)
    }
}
