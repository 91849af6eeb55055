import ArgumentParser
@testable import Ripple
import Testing

/// The shutdown limits come from the environment; a value that is not a usable number of
/// seconds is refused when the node starts, instead of trapping at its first role change.
@Suite struct NodeLifecycleLimitTests {
    @Test func anUnsetLimitIsTheDefaultAndFractionsAreKept() throws {
        #expect(try NodeLifecycle.roleChangeLimit([:]) == .seconds(2))
        #expect(try NodeLifecycle.gracefulShutdownLimit([:]) == .seconds(30))
        #expect(try NodeLifecycle.roleChangeLimit(["RIPPLE_ROLE_CHANGE_SECONDS": "0.25"]) == .milliseconds(250))
        #expect(try NodeLifecycle.gracefulShutdownLimit(["RIPPLE_SHUTDOWN_SECONDS": "3600"]) == .seconds(3600))
        // Below a millisecond, which once rounded down to a limit of no time at all.
        #expect(try NodeLifecycle.roleChangeLimit(["RIPPLE_ROLE_CHANGE_SECONDS": "0.0004"]) == .microseconds(400))
        #expect(try NodeLifecycle.gracefulShutdownLimit(["RIPPLE_SHUTDOWN_SECONDS": "0.000000001"]) == .nanoseconds(1))
        #expect(try NodeLifecycle.gracefulShutdownLimit(["RIPPLE_SHUTDOWN_SECONDS": "1e-12"]) == .nanoseconds(1))
    }

    @Test(arguments: ["inf", "nan", "1e300", "3600.5", "0", "-1", "soon", ""])
    func aLimitThatIsNotAUsableNumberOfSecondsIsRefused(value: String) throws {
        for (variable, read) in [
            ("RIPPLE_ROLE_CHANGE_SECONDS", NodeLifecycle.roleChangeLimit), ("RIPPLE_SHUTDOWN_SECONDS", NodeLifecycle.gracefulShutdownLimit),
        ] as [(String, ([String: String]) throws -> Duration)] {
            #expect {
                try read([variable: value])
            } throws: { error in
                (error as? ValidationError)?.message == "\(variable) must be a number of seconds above 0 and at most 3600, not `\(value)`"
            }
        }
    }
}
