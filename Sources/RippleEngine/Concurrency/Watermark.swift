import Dispatch
import RippleLog
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
        let target: CommitTimestamp
        let continuation: CheckedContinuation<Bool, Never>
    }

    /// One wait, from before its continuation exists (so a cancellation that comes first is not
    /// lost) until it is resumed.
    private enum Slot {
        case starting
        case cancelledWhileStarting
        case waiting(Waiter)
    }

    private struct State {
        var value: CommitTimestamp
        var slots: [Int: Slot] = [:]
        var nextWaiter = 0
    }

    private let state: Mutex<State>

    public init(_ initial: CommitTimestamp) {
        state = Mutex(State(value: initial))
    }

    /// The highest value reached so far.
    public var value: CommitTimestamp { state.withLock { $0.value } }

    /// Raises the watermark to `ts` (a lower `ts` changes nothing) and resumes every waiter it
    /// reaches, after the lock is released.
    public func advance(to ts: CommitTimestamp) {
        set(ts, mayLower: false)
    }

    /// Sets the watermark to `ts` even when that is lower: only for a replica whose whole state
    /// was replaced by a snapshot older than what it had (an old writer's divergent tail
    /// discarded after a failover). Waiters for a value above `ts` keep waiting.
    public func reset(to ts: CommitTimestamp) {
        set(ts, mayLower: true)
    }

    private func set(_ ts: CommitTimestamp, mayLower: Bool) {
        let reached: [Waiter] = state.withLock { state in
            guard ts > state.value || (mayLower && ts != state.value) else { return [] }
            state.value = ts
            var due: [Waiter] = []
            for (id, slot) in state.slots {
                if case .waiting(let waiter) = slot, waiter.target <= ts {
                    due.append(waiter)
                    state.slots[id] = nil
                }
            }
            return due
        }
        for waiter in reached { waiter.continuation.resume(returning: true) }
    }

    /// Suspends until the watermark reaches `ts`.
    public func wait(until ts: CommitTimestamp) async {
        _ = await wait(until: ts, timeout: nil)
    }

    /// Suspends until the watermark reaches `ts`, `timeout` passes or the task is cancelled;
    /// returns whether it reached it.
    public func wait(until ts: CommitTimestamp, timeout: Duration?) async -> Bool {
        let id: Int? = state.withLock { state in
            guard state.value < ts else { return nil }
            state.nextWaiter += 1
            state.slots[state.nextWaiter] = .starting
            return state.nextWaiter
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let outcome: Bool? = state.withLock { state in
                    if state.value >= ts {
                        state.slots[id] = nil
                        return true
                    }
                    if case .cancelledWhileStarting? = state.slots[id] {
                        state.slots[id] = nil
                        return false
                    }
                    state.slots[id] = .waiting(Waiter(target: ts, continuation: continuation))
                    return nil
                }
                if let outcome { return continuation.resume(returning: outcome) }
                if let timeout {
                    let (seconds, attoseconds) = timeout.components
                    let nanoseconds = max(0, seconds) * 1_000_000_000 + max(0, attoseconds) / 1_000_000_000
                    DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in end(id) }
                }
            }
        } onCancel: {
            end(id)
        }
    }

    /// Ends wait `id` unreached (timeout or cancellation), if it has not ended yet.
    private func end(_ id: Int) {
        let waiter: Waiter? = state.withLock { state in
            switch state.slots[id] {
            case .waiting(let waiter)?:
                state.slots[id] = nil
                return waiter
            case .starting?:
                state.slots[id] = .cancelledWhileStarting
                return nil
            case .cancelledWhileStarting?, nil:
                return nil
            }
        }
        waiter?.continuation.resume(returning: false)
    }
}
