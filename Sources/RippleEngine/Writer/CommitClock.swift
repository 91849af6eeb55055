import Foundation
import RippleLog

/// Hands out commit timestamps: nanoseconds since the epoch, strictly increasing even when the
/// wall clock steps back or the node restarts (`next = max(now, last + 1)`, with `last` read
/// back from storage on start).
struct CommitClock {
    private(set) var last: CommitTimestamp
    let now: @Sendable () -> CommitTimestamp

    init(last: CommitTimestamp, now: @escaping @Sendable () -> CommitTimestamp = CommitClock.wallClock) {
        self.last = last
        self.now = now
    }

    mutating func next() -> CommitTimestamp {
        last = max(now(), last.next)
        return last
    }

    @Sendable static func wallClock() -> CommitTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return CommitTimestamp(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}

/// A small, fast generator for the random half of document ids (xoshiro256**), seeded from
/// the system's generator. Ids need to be unguessable in practice, not cryptographic keys.
struct IDRandom {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var g = SystemRandomNumberGenerator()
        s = (g.next(), g.next(), g.next(), g.next() | 1)
    }

    mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
