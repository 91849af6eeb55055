import Foundation

/// The committer's view of time for its group linger: it measures each COMMIT, and lets a group
/// wait up to half a recent COMMIT's duration for callers that are about to come back. A seam so
/// that tests choose how long a COMMIT took and when a linger ends, instead of racing real time.
protocol LingerClock: Sendable {
    /// Nanoseconds on a clock that never steps back: COMMIT's duration is the difference of two.
    func uptimeNanoseconds() -> UInt64
    /// When a linger of `nanoseconds` starting now ends, as the committer's queue waits for it.
    func lingerDeadline(after nanoseconds: UInt64) -> Date
}

/// The machine's clocks: the monotonic one to measure, the wall clock for `NSCondition`'s deadline.
struct SystemLingerClock: LingerClock {
    func uptimeNanoseconds() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    func lingerDeadline(after nanoseconds: UInt64) -> Date { Date(timeIntervalSinceNow: Double(nanoseconds) / 1e9) }
}
