import Foundation
import NIOCore
import NIOPosix

/// When a session's user token stops counting: its `exp` plus the authenticator's clock leeway.
///
/// Convex checks a token's expiry whenever a session computes new results; a session that only
/// listens would keep receiving a user's data long after the token ran out. So the deadline is
/// also scheduled, on an event loop (no task sleeps for it, nothing polls), and cancelled when the
/// client authenticates again or leaves.
final class TokenDeadline: Sendable {
    /// The first instant at which the token no longer counts.
    let instant: Date
    private let scheduled: Scheduled<Void>
    /// Set when the event loop ran the deadline. Its clock is monotonic and `instant` is on the
    /// wall clock: the two need not agree to the microsecond, and a deadline that fired must
    /// count as passed, or the session would ignore it and no later one would come.
    private let fired = OneWayFlag()

    /// Calls `onExpiry` at `expiresAt + leeway` unless cancelled first; at once if that has passed.
    init(expiresAt: Date, leeway: Duration, now: Date = Date(), onExpiry: @escaping @Sendable () -> Void) {
        let leewaySeconds = Double(leeway.components.seconds) + Double(leeway.components.attoseconds) / 1e18
        instant = expiresAt.addingTimeInterval(leewaySeconds)
        let delay = max(0, instant.timeIntervalSince(now))
        // Clamped so a token valid for years does not overflow the event loop's nanoseconds.
        let nanoseconds = Int64(min(delay, 365 * 86_400) * 1e9)
        let fired = fired
        scheduled = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(nanoseconds)) {
            fired.set()
            onExpiry()
        }
    }

    /// Whether the token no longer counts at `now`: `instant` is reached, or the deadline fired.
    func hasPassed(at now: Date = Date()) -> Bool { fired.isSet || now >= instant }

    func cancel() { scheduled.cancel() }

    deinit { scheduled.cancel() }
}
