import Synchronization

/// A flag that is set once and never cleared, read from any thread: a socket asked to go away,
/// a token deadline that fired.
final class OneWayFlag: Sendable {
    private let flag = Atomic(false)

    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
