import RippleLog
import Synchronization

/// The node's durable commits, in commit order, handed to everything that reacts to them: the
/// subscription hub, the replication server's live tail, the scheduler's doorbell, metrics.
/// The committer (writer) or the applier (replica) publishes each group once SQLite's COMMIT has
/// returned and before any of the group's callers hear back, so a subscriber knows of a write
/// before its author does.
public final class CommitFeed: Sendable {
    /// What unsubscribes a listener from the feed.
    public struct Subscription: Sendable {
        fileprivate let feed: CommitFeed
        fileprivate let id: Int

        /// Stops calling the listener; a group being delivered at this moment may still reach it.
        public func cancel() {
            feed.listeners.withLock { $0.all.removeAll { $0.id == id } }
        }
    }

    private struct Listeners {
        var next = 0
        /// In subscription order.
        var all: [(id: Int, listener: @Sendable (CommitGroup) -> Void)] = []
    }

    private let listeners = Mutex(Listeners())

    /// The applied timestamp of the last group published: waiting on it is how a node waits
    /// until it has reached a timestamp. It moves after the listeners ran.
    public let applied: Watermark

    init(appliedTimestamp: CommitTimestamp) {
        applied = Watermark(appliedTimestamp)
    }

    /// Calls `listener` with every durable group that wrote something, on the publishing thread
    /// (the committer's or the applier's): keep it short, hand long work to a task.
    @discardableResult
    public func subscribe(_ listener: @escaping @Sendable (CommitGroup) -> Void) -> Subscription {
        let id = listeners.withLock { listeners in
            listeners.next += 1
            listeners.all.append((listeners.next, listener))
            return listeners.next
        }
        return Subscription(feed: self, id: id)
    }

    /// Hands `group` to every listener, in the order they subscribed, then raises `applied`.
    func publish(_ group: CommitGroup) {
        let current = listeners.withLock { $0.all.map(\.listener) }
        for listener in current { listener(group) }
        applied.advance(to: group.appliedTimestamp)
    }
}
