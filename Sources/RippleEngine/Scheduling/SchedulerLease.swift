import RippleValues

/// Which scheduler may run jobs, until when. The lease is one document in `_scheduler_lease`,
/// granted and renewed by mutations on the writer and judged by the writer's clock (the commit
/// timestamp), so two schedulers never both believe they hold it. Every job mutation carries
/// its scheduler's `holder` and is refused unless that holder has the lease at commit time: a
/// scheduler that lost the lease (paused, partitioned) cannot start or finish jobs any more.
public struct SchedulerLease: Sendable, Equatable {
    /// The scheduler process holding it (node id plus a per-process random suffix).
    public var holder: String
    /// Grows by one each time the lease changes hands.
    public var epoch: Int64
    /// Milliseconds since the epoch, writer's clock.
    public var expiresAt: Double

    public init(holder: String, epoch: Int64, expiresAt: Double) {
        self.holder = holder
        self.epoch = epoch
        self.expiresAt = expiresAt
    }

    /// Whether `holder` may run jobs at `now`.
    public func isHeld(by holder: String, at now: Double) -> Bool { self.holder == holder && now < expiresAt }

    /// The outcome of a scheduler asking for the lease.
    public enum Grant: Sendable, Equatable {
        /// The candidate holds the lease; `takeover` when it was someone else's (or nobody's) before.
        case granted(SchedulerLease, takeover: Bool)
        /// Another scheduler holds it until `expiresAt`.
        case refused(SchedulerLease)
    }

    /// What `candidate` gets when it asks at `now` for a lease lasting `duration` ms: its own
    /// lease renewed, a free or expired lease taken over, or a refusal while another holds it.
    public static func request(current: SchedulerLease?, candidate: String, now: Double, duration: Double) -> Grant {
        guard let current else {
            return .granted(SchedulerLease(holder: candidate, epoch: 1, expiresAt: now + duration), takeover: true)
        }
        if current.holder == candidate, now < current.expiresAt {
            return .granted(SchedulerLease(holder: candidate, epoch: current.epoch, expiresAt: now + duration), takeover: false)
        }
        if now >= current.expiresAt {
            return .granted(SchedulerLease(holder: candidate, epoch: current.epoch + 1, expiresAt: now + duration), takeover: true)
        }
        return .refused(current)
    }

    // MARK: - As a document

    var fields: [String: Value] {
        ["holder": .string(holder), "epoch": .int64(epoch), "expiresAt": .float64(expiresAt)]
    }

    init?(_ document: Document) {
        guard let holder = document["holder"]?.stringValue, let epoch = document["epoch"]?.int64Value,
            let expiresAt = document["expiresAt"]?.doubleValue
        else { return nil }
        self.init(holder: holder, epoch: epoch, expiresAt: expiresAt)
    }

    /// The lease document and its id, read inside a transaction.
    static func load(_ transaction: Transaction) throws -> (id: String, lease: SchedulerLease)? {
        let query = try QueryInitializer(transaction: transaction, tableName: SystemTables.schedulerLease, system: true).fullTableScan()
        guard let document = try query.first(), let lease = SchedulerLease(document) else { return nil }
        return (document.id, lease)
    }
}
