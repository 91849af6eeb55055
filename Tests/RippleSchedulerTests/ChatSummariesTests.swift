import ChatExample
import Foundation
import RippleEngine
import RippleScheduler
import RippleTestSupport
import RippleValues
import Testing

/// The chat example's scheduling path: the daily cron's action schedules one summary job per
/// active user, and each job writes that user's summary.
@Suite(.serialized) struct ChatSummariesTests {
    @Test func dailySummariesScheduleOneJobPerUserAndWriteTheirSummaries() async throws {
        let h = try SchedulerHarness(app: ChatApp.app)
        h.startScheduler()
        let cron = try #require(ChatApp.app.crons.jobs.first { $0.name == "generate-daily-summaries" })
        #expect(cron.schedule == .daily(hourUTC: 6, minuteUTC: 0))
        #expect(cron.functionPath == "ai:generateDailySummaries")

        let users = ["ada", "grace", "linus"].map { name in
            Identity.user(UserIdentity(subject: "user_\(name)", issuer: "https://issuer.test", claims: ["name": .string(name)]))
        }
        for identity in users { _ = try await h.engine.mutation("users:upsertUser", identity: identity) }
        let ada = users[0]
        let channel = try await h.engine.mutation("channels:create", ["name": "general"], identity: ada).value.stringValue!
        for text in ["one", "two"] {
            _ = try await h.engine.mutation("messages:sendMessage", ["channelId": .string(channel), "content": .string(text)], identity: ada)
        }

        // What the cron runs at 06:00 UTC, run now.
        let scheduled = try await h.engine.action("ai:generateDailySummaries", caller: .server)
        #expect(scheduled == 3)
        try await eventually("every user has a summary") {
            for identity in users where try await h.engine.query("ai:getMySummary", identity: identity).value.isNull {
                return false
            }
            return true
        }
        let summary = try await h.engine.query("ai:getMySummary", identity: ada).value
        #expect(summary["messageCount"] == 2)
        #expect(summary["content"]?.stringValue?.contains("2 messages in 1 channels") == true)
        await h.stop()
    }

    @Test func diagnosticsFunctionsAreNotPartOfTheAppUsersRun() {
        #expect(ChatApp.app.functions.function("diagnostics:scheduleRuns") == nil)
        #expect(ChatApp.app.functions.function("diagnostics:transferMembers") == nil)
        #expect(ChatApp.appWithDiagnostics.functions.function("diagnostics:scheduleRuns") != nil)
        #expect(ChatApp.app.functions.function("ai:generateUserSummary") != nil)
    }
}
