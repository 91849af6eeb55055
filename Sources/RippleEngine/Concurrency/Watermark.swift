import Dispatch
import Synchronization

/// A timestamp that only grows — "applied up to", "processed up to" — and the tasks waiting for
/// it to reach theirs. Every "wait until this node has reached ts" in Ripple is one of these, so
/// the waking rule (resume exactly the waiters reached, never poll) is written once.
///
/// A wait with a timeout schedules its expiry on a Dispatch timer instead of a sleeping task: a
/// replication link waits once per idle second, and a timer that fires after its waiter was
/// already woken costs a lookup.
public final class Watermark: Sendable {
    private struct Waiter {
        let target: UInt64
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var value: UInt64
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
    }

    private let state: Mutex<State>

    public init(_ initial: UInt64) {
        state = Mutex(State(value: initial))
    }

    /// The highest value reached so far.
    public var value: UInt64 { state.withLock { $0.value } }

    /// Raises the watermark to `ts` (a lower `ts` changes nothing) and resumes every waiter it
    /// reaches, after the lock is released.
    public func advance(to ts: UInt64) {
        let reached: [Waiter] = state.withLock { state in
            guard ts > state.value else { return [] }
            state.value = ts
            let due = state.waiters.filter { $0.value.target <= ts }
            for id in due.keys { state.waiters[id] = nil }
            return Array(due.values)
        }
        for waiter in reached { waiter.continuation.resume(returning: true) }
    }

    /// Suspends until the watermark reaches `ts`.
    public func wait(until ts: UInt64) async {
        _ = await wait(until: ts, timeout: nil)
    }

    /// Suspends until the watermark reaches `ts` or `timeout` passes; returns whether it reached it.
    public func wait(until ts: UInt64, timeout: Duration?) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let id: Int? = state.withLock { state in
                guard state.value < ts else { return nil }
                let id = state.nextWaiter
                state.nextWaiter += 1
                state.waiters[id] = Waiter(target: ts, continuation: continuation)
                return id
            }
            guard let id else { return continuation.resume(returning: true) }
            if let timeout {
                let (seconds, attoseconds) = timeout.components
                let nanoseconds = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in expire(id) }
            }
        }
    }

    private func expire(_ id: Int) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: false)
    }
}
