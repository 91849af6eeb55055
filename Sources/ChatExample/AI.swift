import Foundation
import Logging
import Ripple
import Synchronization

extension ChatApp {
    /// The seed's daily summaries: a cron at 06:00 UTC runs `ai:generateDailySummaries`, which
    /// schedules one `ai:generateUserSummary` per active user. That action asks the AI service
    /// (non-streaming) to word the user's last day; without `ANTHROPIC_API_KEY`, or when the
    /// call fails, it stores the summary computed from the user's messages instead.
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

        /// A user's last 24 hours: name, message and channel counts, and the computed summary.
        functions.internalQuery("ai:userActivity", args: ["userId": v.id("users")]) { ctx, args in
            let userId = try args.string("userId")
            guard let user = try ctx.db.get(userId) else { return Value.null }
            let dayStart = ctx.now - 86_400_000
            let messages = try ctx.db.query("messages")
                .withIndex("by_user") { $0.eq("userId", userId).gt("timestamp", dayStart) }
                .take(1_000)
            let channels = Set(messages.compactMap { $0["channelId"]?.stringValue })
            let name = user["name"]?.stringValue ?? "there"
            let summary =
                messages.isEmpty
                ? "Hi \(name), you sent no messages in the last 24 hours."
                : "Hi \(name), you sent \(messages.count) messages in \(channels.count) channels in the last 24 hours."
            return Value.object([
                "name": .string(name), "messageCount": .float64(Double(messages.count)),
                "channelCount": .float64(Double(channels.count)), "summary": .string(summary),
            ])
        }

        functions.internalAction("ai:generateUserSummary", args: ["userId": v.id("users")]) { ctx, args in
            let userId = try args.string("userId")
            let activity = try await ctx.runQuery("ai:userActivity", ["userId": .string(userId)])
            guard let computed = activity["summary"]?.stringValue, let count = activity["messageCount"] else { return Value.null }
            var content = computed
            if let client = AnthropicClient(ctx.env) {
                do {
                    content = try await client.complete(ctx, prompt: summaryPrompt(activity), maxTokens: 300)
                } catch {
                    ctx.logger.warning("daily summary: the AI call failed (\(ctx.env.redact("\(error)"))); storing the computed summary")
                }
            } else {
                logOnceWithoutAIKey(ctx.logger)
            }
            return try await ctx.runMutation("ai:storeSummary", ["userId": .string(userId), "content": .string(content), "messageCount": count])
        }

        functions.internalMutation("ai:storeSummary", args: ["userId": v.id("users"), "content": v.string(), "messageCount": v.number()]) {
            ctx, args in
            try ctx.db.insert("dailySummaries", [
                "userId": .string(try args.string("userId")), "content": .string(try args.string("content")),
                "messageCount": .float64(try args.double("messageCount")), "createdAt": .float64(ctx.now),
            ])
        }

        /// The signed-in user's latest summary, or null.
        functions.query("ai:getMySummary") { ctx, _ -> Document? in
            guard let identity = ctx.auth.getUserIdentity(), let user = try userRecord(ctx.db, clerkId: identity.subject) else {
                return nil
            }
            return try ctx.db.query("dailySummaries").withIndex("by_user") { $0.eq("userId", user.id) }.order(.desc).first()
        }
    }

    /// What the AI is asked for a daily summary.
    static func summaryPrompt(_ activity: Value) -> String {
        let name = activity["name"]?.stringValue ?? "the user"
        let messages = Int(activity["messageCount"]?.doubleValue ?? 0)
        let channels = Int(activity["channelCount"]?.doubleValue ?? 0)
        return "Write a friendly one-sentence daily summary for \(name), who sent \(messages) chat messages in \(channels) channels in the last 24 hours."
    }

    private static let warnedWithoutAIKey = Mutex(false)

    /// Says once per process that summaries are computed, not written by the AI.
    static func logOnceWithoutAIKey(_ logger: Logger) {
        let first = warnedWithoutAIKey.withLock { warned in
            defer { warned = true }
            return !warned
        }
        if first { logger.notice("daily summaries: ANTHROPIC_API_KEY is not set; storing computed summaries instead of AI-written ones") }
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
