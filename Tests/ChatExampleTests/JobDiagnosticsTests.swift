import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

@testable import ChatExample

/// The chaos suite's long run (issue 13) stopped in round 38 on its own harness:
/// `diagnostics:cronStats` scanned every scheduled job to find the cron's and passed the
/// document read limit. It finds them through `_scheduled_functions.by_name_time` now.
@Suite struct JobDiagnosticsTests {
    @Test func cronStatsReadsOnlyTheCronsJobs() async throws {
        let directory = TemporaryDirectory()
        var options = EngineOptions()
        options.limits.maxDocumentsScanned = 100
        let engine = try Engine.open(path: directory.database, app: ChatApp.appWithDiagnostics, options: options)
        defer { engine.close() }
        for prefix in ["a", "b"] {
            _ = try await engine.mutation(
                "diagnostics:scheduleRuns", ["prefix": .string(prefix), "count": 90, "delayMs": 3_600_000, "kind": "mutation"])
        }
        let stats = try await engine.query("diagnostics:cronStats", [:]).value
        #expect(stats == ["jobs": [], "runs": 0])
    }
}
