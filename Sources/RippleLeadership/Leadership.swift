import Foundation
import Logging
import Synchronization

/// One node's dealings with etcd: reading who leads, campaigning when nobody does, and — once
/// elected — renewing the lease and knowing until when it may still commit.
///
/// The lease TTL is what etcd granted (it may round the requested one up); `writeDeadline` comes
/// from `StepDownRule`, so the committer can refuse a write the moment this node may no longer
/// be the only writer, without asking etcd.
public final class Leadership: Sendable {
    /// Why a node stopped leading.
    public struct LeadershipLost: Error, Sendable, CustomStringConvertible {
        public var term: UInt64
        public var reason: String
        public var description: String { "lost the leadership of term \(term): \(reason)" }
    }

    public let etcd: EtcdClient
    public let keys: LeadershipKeys
    public let nodeID: String
    /// The lease TTL to ask for, in whole seconds (etcd's unit).
    public let ttlSeconds: Int64
    private let logger: Logger
    /// Until when this node may commit; nil while it does not lead.
    private let permit = Mutex<CommitPermit?>(nil)

    public init(etcd: EtcdClient, clusterID: String, nodeID: String, ttlSeconds: Int64, logger: Logger) {
        self.etcd = etcd
        self.keys = LeadershipKeys(clusterID: clusterID)
        self.nodeID = nodeID
        self.ttlSeconds = ttlSeconds
        self.logger = logger
    }

    /// Whether this node may commit now: it leads and its lease cannot have expired yet. The
    /// first `false` in a term is final (`CommitPermit`), and `hold` then steps down.
    public func admitCommit() -> Bool {
        permit.withLock { permit in permit?.admit(at: .now) ?? false }
    }

    /// The current leader, or nil when the key is absent (expired, resigned, never set).
    public func leader() async throws -> LeaderRecord? {
        try await etcd.get(keys.leader).flatMap { LeaderRecord(decoding: $0.value) }
    }

    /// The last term handed out (0 before the first election).
    public func lastTerm() async throws -> (term: UInt64, revision: Int64) {
        guard let kv = try await etcd.get(keys.term) else { return (0, 0) }
        return (UInt64(String(decoding: kv.value, as: UTF8.self)) ?? 0, kv.modRevision)
    }

    /// Publishes this node's position for the election, bound to a short lease of its own, so
    /// a candidate that dies drops out.
    public func announce(_ position: CandidatePosition) async throws {
        let lease = try await etcd.grantLease(ttlSeconds: ttlSeconds * 2)
        let value = Array((try JSONEncoder().encode(position)))
        try await etcd.put(keys.candidate(position.nodeID), value, lease: lease.id)
    }

    /// Every published candidacy.
    public func candidates() async throws -> [CandidatePosition] {
        try await etcd.list(prefix: keys.candidates).compactMap { try? JSONDecoder().decode(CandidatePosition.self, from: Data($0.value)) }
    }

    /// The last recorded sync set with the revision a campaign must still find (0: absent; then
    /// any node may lead). Throws `UnreadableSyncRecord` when `/sync` holds something else: that
    /// must close the election, not open it to every candidate.
    public func syncRecord() async throws -> SyncReading {
        guard let kv = try await etcd.get(keys.sync) else { return SyncReading(record: nil, revision: 0) }
        guard let record = SyncRecord(decoding: kv.value) else {
            throw UnreadableSyncRecord(key: keys.sync, value: String(decoding: kv.value.prefix(200), as: UTF8.self))
        }
        return SyncReading(record: record, revision: kv.modRevision)
    }

    /// Records the sync set of the writer `leader`, only while `leader` is still the leader key
    /// and `/sync` is still at `revision` (the last one this writer saw or wrote), so a write of
    /// its own delayed in the network cannot land over a newer one. Throws when the outcome is
    /// unknown (etcd did not answer): then `resolveSync` tells what happened.
    public func recordSync(_ record: SyncRecord, as leader: LeaderRecord, over revision: Int64) async throws -> SyncWrite {
        let reply = try await etcd.transact(
            if: [.valueEquals(keys.leader, leader.encoded), .modRevisionEquals(keys.sync, revision)],
            then: [.put(keys.sync, record.encoded, lease: nil)])
        // A refused write may still be an earlier, unanswered write of the same record that
        // landed meanwhile: only a read tells.
        return reply.succeeded ? .recorded(revision: reply.revision) : try await resolveSync(record, over: revision).refusingRetry
    }

    /// What became of a write of `record` over `revision` whose answer was lost, read back from
    /// `/sync`.
    public func resolveSync(_ record: SyncRecord, over revision: Int64) async throws -> SyncWrite {
        SyncWrite(written: record, over: revision, found: try await etcd.get(keys.sync))
    }

    /// Says whether this node stands for election, for writers choosing sync replicas.
    public func register(standing: Bool) async throws {
        if standing {
            _ = try await etcd.transaction(if: [], then: [.delete(keys.observer(nodeID))])
        } else {
            try await etcd.put(keys.observer(nodeID), Array("observer".utf8))
        }
    }

    /// The nodes that never stand for election.
    public func observers() async throws -> Set<String> {
        Set(try await etcd.list(prefix: keys.observers).map { String($0.key.dropFirst(keys.observers.count)) })
    }

    /// Tries once to become the leader: one transaction that succeeds only if nobody leads, the
    /// term is still the one read, and `/sync` is still at `syncRevision` (the revision of the
    /// record the eligibility was judged on — a candidate paused after reading it must not win
    /// over a sync set recorded since), writing the leader key (bound to a fresh lease) and the
    /// next term together. Returns the record and the lease on success, nil if someone else won.
    /// `appliedTerm` is the newest term this node holds commits of (`Store.appliedTerm`).
    public func campaign(
        clientAddress: String, replicationAddress: String, syncRevision: Int64, appliedTerm: UInt64 = 0
    ) async throws -> (record: LeaderRecord, lease: Int64, ttl: Duration)? {
        let (term, revision) = try await lastTerm()
        let next = Self.nextTerm(etcdTerm: term, appliedTerm: appliedTerm)
        let sent = ContinuousClock.now
        let lease = try await etcd.grantLease(ttlSeconds: ttlSeconds)
        let record = LeaderRecord(nodeID: nodeID, clientAddress: clientAddress, replicationAddress: replicationAddress, term: next)
        let won = try await etcd.transaction(
            if: [.absent(keys.leader), .modRevisionEquals(keys.term, revision), .modRevisionEquals(keys.sync, syncRevision)],
            then: [.put(keys.leader, record.encoded, lease: lease.id), .put(keys.term, Array(String(next).utf8), lease: nil)])
        guard won else {
            try? await etcd.revoke(lease: lease.id)
            return nil
        }
        let ttl = Duration.seconds(lease.ttlSeconds)
        permit.withLock { $0 = CommitPermit(deadline: StepDownRule(ttl: ttl).deadline(renewalSentAt: sent)) }
        logger.info("elected writer", metadata: ["term": "\(record.term)", "ttl": "\(lease.ttlSeconds)s"])
        return (record, lease.id, ttl)
    }

    /// The term a campaign claims: above etcd's term key and above every term this node holds
    /// commits of. If etcd's key went back (etcd wiped or restored from an old backup), a term
    /// already used would otherwise be handed out again, and two writers' commits would carry
    /// the same (ts, term) identity.
    public static func nextTerm(etcdTerm: UInt64, appliedTerm: UInt64) -> UInt64 {
        max(etcdTerm, appliedTerm) + 1
    }

    /// Renews the lease until it cannot; throws `LeadershipLost` at the step-down deadline (or
    /// as soon as etcd says the lease is gone). Cancelling it resigns: the lease is revoked, so
    /// the next election need not wait for the TTL.
    public func hold(term: UInt64, lease: Int64, ttl: Duration) async throws {
        let rule = StepDownRule(ttl: ttl)
        defer { permit.withLock { $0 = nil } }
        while true {
            let now = ContinuousClock.now
            let held = permit.withLock { $0 }
            let until = held?.deadline ?? now
            if held?.lapsed == true { throw LeadershipLost(term: term, reason: "a commit was refused at the step-down deadline") }
            if now >= until { throw LeadershipLost(term: term, reason: "the lease could not be renewed before its step-down deadline") }
            do {
                // Never wait until the deadline itself (a renewal sent then cannot count): at
                // most half the time left, so a late start (the role opening its database) or
                // a slow reply still leaves room for another attempt.
                try await Task.sleep(until: min(now.advanced(by: rule.renewalInterval), now.advanced(by: (until - now) / 2)), clock: .continuous)
            } catch {
                // No commit once the successor may be elected: the permit goes before the lease.
                permit.withLock { $0 = nil }
                // In a task of its own: this one is cancelled, and a cancelled request is never
                // sent, which would leave the successor waiting out the TTL.
                let etcd = etcd
                await Task { try? await etcd.revoke(lease: lease) }.value
                throw error
            }
            let sent = ContinuousClock.now
            do {
                let remaining = try await etcd.keepAlive(lease: lease)
                guard remaining > 0 else { throw LeadershipLost(term: term, reason: "etcd says the lease expired") }
                permit.withLock { $0?.renewed(sentAt: sent, rule: rule) }
            } catch let lost as LeadershipLost {
                throw lost
            } catch {
                logger.warning("lease renewal failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
