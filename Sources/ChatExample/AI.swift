import Foundation
import Ripple

extension ChatApp {
    /// The seed's daily summaries: a cron at 06:00 UTC runs `ai:generateDailySummaries`, which
    /// schedules one `ai:generateUserSummary` per active user. The AI call itself comes with
    /// actions that stream from a model; until then a user's summary is computed from their
    /// messages of the last day, which exercises the same scheduling path.
    static func registerAI(_ functions: inout FunctionRegistry) {
        functions.internalAction("ai:generateDailySummaries") { ctx, _ in
            let users = try await ctx.runQuery("users:getActiveUsers")
            var scheduled = 0
            for user in users.arrayValue ?? [] {
                guard let id = user["_id"]?.stringValue else { continue }
                try await ctx.scheduler.runAfter(0, "ai:generateUserSummary", ["userId": .string(id)])
                scheduled += 1
            }
            return Value.float64(Double(scheduled))
        }

        functions.internalMutation("ai:generateUserSummary", args: ["userId": v.id("users")]) { ctx, args in
            let userId = try args.string("userId")
            guard let user = try ctx.db.get(userId) else { return Value.null }
            let dayStart = ctx.now - 86_400_000
            let messages = try ctx.db.query("messages")
                .withIndex("by_user") { $0.eq("userId", userId).gt("timestamp", dayStart) }
                .take(1_000)
            let channels = Set(messages.compactMap { $0["channelId"]?.stringValue })
            let name = user["name"]?.stringValue ?? "there"
            let content =
                messages.isEmpty
                ? "Hi \(name), you sent no messages in the last 24 hours."
                : "Hi \(name), you sent \(messages.count) messages in \(channels.count) channels in the last 24 hours."
            return Value.string(try ctx.db.insert("dailySummaries", [
                "userId": .string(userId), "content": .string(content), "messageCount": .float64(Double(messages.count)),
                "createdAt": .float64(ctx.now),
            ]))
        }

        /// The signed-in user's latest summary, or null.
        functions.query("ai:getMySummary") { ctx, _ -> Document? in
            guard let identity = ctx.auth.getUserIdentity(), let user = try userRecord(ctx.db, clerkId: identity.subject) else {
                return nil
            }
            return try ctx.db.query("dailySummaries").withIndex("by_user") { $0.eq("userId", user.id) }.order(.desc).first()
        }
    }

    /// The seed's `crons.ts`.
    static func crons(diagnostics: Bool) -> Crons {
        var crons = Crons()
        do {
            try crons.daily("generate-daily-summaries", hourUTC: 6, minuteUTC: 0, "ai:generateDailySummaries")
            // A cron every second for the scheduler's cluster tests; off unless asked for.
            if diagnostics, ProcessInfo.processInfo.environment["CHAT_TEST_CRON"] == "1" {
                try crons.interval("diagnostics-tick", seconds: 1, "diagnostics:recordCronRun")
            }
        } catch {
            fatalError("\(error)")
        }
        return crons
    }
}
