import Foundation
import Logging
import Ripple
import Synchronization

/// `convex/ai.ts`: the daily summaries.
public enum AI {
    public struct UserArgs: Codable, Sendable {
        public var userId: ID<User>
    }

    /// A user's last 24 hours: what the summary is written from.
    public struct UserActivity: Codable, Sendable {
        public var name: String
        public var messageCount: Int
        public var channelCount: Int
        public var summary: String
    }

    public struct StoreSummaryArgs: Codable, Sendable {
        public var userId: ID<User>
        public var content: String
        public var messageCount: Int
    }

    public static let generateDailySummaries = ActionReference<NoArguments, Int>("ai:generateDailySummaries")
    public static let userActivity = QueryReference<UserArgs, UserActivity?>("ai:userActivity")
    public static let generateUserSummary = ActionReference<UserArgs, ID<DailySummary>?>("ai:generateUserSummary")
    public static let storeSummary = MutationReference<StoreSummaryArgs, ID<DailySummary>>("ai:storeSummary")
    public static let getMySummary = QueryReference<NoArguments, Stored<DailySummary>?>("ai:getMySummary")
}

extension ChatApp {
    /// The seed's daily summaries: a cron at 06:00 UTC runs `ai:generateDailySummaries`, which
    /// schedules one `ai:generateUserSummary` per active user. That action asks the AI service
    /// (non-streaming) to word the user's last day; without `ANTHROPIC_API_KEY`, or when the
    /// call fails, it stores the summary computed from the user's messages instead.
    static func registerAI(_ functions: inout FunctionRegistry) {
        functions.internalAction(AI.generateDailySummaries) { ctx, _ in
            let users = try await ctx.runQuery(Users.getActiveUsers)
            for user in users {
                try await ctx.scheduler.runAfter(0, AI.generateUserSummary, .init(userId: user.id))
            }
            return users.count
        }

        functions.internalQuery(AI.userActivity) { ctx, args in
            guard let user = try ctx.db.get(args.userId) else { return nil }
            let messages = try ctx.db.query(Message.self)
                .withIndex("by_user") { $0.eq(\.userId, args.userId).gt(\.timestamp, ctx.now - 86_400_000) }
                .take(1_000)
            let channels = Set(messages.map { $0.channelId })
            let summary =
                messages.isEmpty
                ? "Hi \(user.name), you sent no messages in the last 24 hours."
                : "Hi \(user.name), you sent \(messages.count) messages in \(channels.count) channels in the last 24 hours."
            return AI.UserActivity(name: user.name, messageCount: messages.count, channelCount: channels.count, summary: summary)
        }

        functions.internalAction(AI.generateUserSummary) { ctx, args in
            guard let activity = try await ctx.runQuery(AI.userActivity, args) else { return nil }
            var content = activity.summary
            if let client = AnthropicClient(ctx.env) {
                do {
                    content = try await client.complete(ctx, prompt: summaryPrompt(activity), maxTokens: 300)
                } catch {
                    ctx.logger.warning("daily summary: the AI call failed (\(ctx.env.redact("\(error)"))); storing the computed summary")
                }
            } else {
                logOnceWithoutAIKey(ctx.logger)
            }
            return try await ctx.runMutation(
                AI.storeSummary, .init(userId: args.userId, content: content, messageCount: activity.messageCount))
        }

        functions.internalMutation(AI.storeSummary) { ctx, args in
            try ctx.db.insert(
                DailySummary(userId: args.userId, content: args.content, messageCount: Double(args.messageCount), createdAt: ctx.now))
        }

        /// The signed-in user's latest summary, or null.
        functions.query(AI.getMySummary) { ctx, _ in
            guard let identity = ctx.auth.getUserIdentity(), let user = try userRecord(ctx.db, clerkId: identity.subject) else {
                return nil
            }
            return try ctx.db.query(DailySummary.self).withIndex("by_user") { $0.eq(\.userId, user.id) }.order(.desc).first()
        }
    }

    /// What the AI is asked for a daily summary.
    static func summaryPrompt(_ activity: AI.UserActivity) -> String {
        "Write a friendly one-sentence daily summary for \(activity.name), who sent \(activity.messageCount) chat messages in \(activity.channelCount) channels in the last 24 hours."
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
        crons.daily("generate-daily-summaries", hourUTC: 6, minuteUTC: 0, AI.generateDailySummaries)
        // A cron every second for the scheduler's cluster tests; off unless asked for.
        if diagnostics, ProcessInfo.processInfo.environment["CHAT_TEST_CRON"] == "1" {
            crons.interval("diagnostics-tick", seconds: 1, JobDiagnostics.recordCronRun)
        }
        return crons
    }
}
