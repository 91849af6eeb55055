@testable import RippleEngine
import RippleLog
import Synchronization
import Testing

/// `Watermark` is every "wait until ts" of the node: it must wake exactly the waiters reached,
/// never go back, and answer a timeout with false.
@Suite struct WatermarkTests {
    @Test func advanceWakesTheWaitersItReachesAndNeverGoesBack() async {
        let mark = Watermark(10)
        #expect(await mark.wait(until: 10, timeout: nil))
        let woken = await withTaskGroup(of: CommitTimestamp.self) { group in
            for target: CommitTimestamp in [20, 30] {
                group.addTask {
                    await mark.wait(until: target)
                    return target
                }
            }
            mark.advance(to: 5)
            #expect(mark.value == 10)
            mark.advance(to: 25)
            mark.advance(to: 30)
            var woken: Set<CommitTimestamp> = []
            for await target in group { woken.insert(target) }
            return woken
        }
        #expect(woken == [20, 30])
        #expect(mark.value == 30)
    }

    @Test func aWaitThatTimesOutAnswersFalseAndALaterAdvanceStillWorks() async {
        let mark = Watermark(0)
        #expect(await mark.wait(until: 1, timeout: .milliseconds(10)) == false)
        mark.advance(to: 1)
        #expect(await mark.wait(until: 1, timeout: .milliseconds(10)))
    }

    /// A wait with no timeout must still end when its task is cancelled (a forwarded mutation
    /// waiting for a commit the failed writer never shipped), before or after it registered.
    @Test func aCancelledWaitAnswersFalse() async {
        let mark = Watermark(0)
        let waiting = Task { await mark.wait(until: 5, timeout: nil) }
        waiting.cancel()
        #expect(await waiting.value == false)
        let alreadyCancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await mark.wait(until: 5, timeout: nil)
        }
        #expect(await alreadyCancelled.value == false)
        mark.advance(to: 5)
        #expect(await mark.wait(until: 5, timeout: nil))
    }

    /// Only a snapshot install lowers the watermark; waiters above the new value keep waiting.
    @Test func resetLowersTheValueAndWaitersAboveItKeepWaiting() async {
        let mark = Watermark(100)
        mark.reset(to: 95)
        #expect(mark.value == 95)
        #expect(await mark.wait(until: 96, timeout: .milliseconds(20)) == false)
        mark.advance(to: 96)
        #expect(await mark.wait(until: 96, timeout: nil))
    }
}

/// The feed is reactivity's fan-out: listeners in subscription order, a cancelled one no longer
/// called, and the watermark raised only after every listener has seen the group.
@Suite struct CommitFeedTests {
    @Test func listenersRunInOrderBeforeTheWatermarkMovesAndCancelStopsOne() {
        let feed = CommitFeed(appliedTimestamp: 1)
        let seen = Mutex<[String]>([])
        feed.subscribe { group in seen.withLock { $0.append("first \(group.appliedTimestamp) at \(feed.applied.value)") } }
        let second = feed.subscribe { group in seen.withLock { $0.append("second \(group.appliedTimestamp)") } }
        feed.publish(CommitGroup(mutations: [], appliedTimestamp: 2))
        second.cancel()
        feed.publish(CommitGroup(mutations: [], appliedTimestamp: 3))
        #expect(seen.withLock { $0 } == ["first 2 at 1", "second 2", "first 3 at 2"])
        #expect(feed.applied.value == 3)
    }
}
