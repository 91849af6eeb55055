/// How long to wait before the next connection attempt: doubling from `initial` up to
/// `maximum`, with ±50 % jitter so that clients dropped by one node restart do not all come back
/// in the same instant (the JS client's rule, `web_socket_manager.ts` `nextBackoff`).
public struct ReconnectBackoff: Sendable, Equatable {
    /// The wait after the first failure.
    public var initial: Duration
    /// The longest wait.
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(16)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The wait after `failures` (≥ 1) attempts in a row that failed; `jitter` in `0...1` (0.5 is none).
    func delay(afterFailures failures: Int, jitter: Double) -> Duration {
        var base = initial
        for _ in 1..<max(1, min(failures, 32)) where base < maximum { base = base * 2 }
        base = min(base, maximum)
        return base * (0.5 + jitter)
    }
}
