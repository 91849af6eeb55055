import Ripple

/// The seed's chat schema: users (from Clerk), channels, messages, AI conversations.
public let chatSchema = Schema([
    TableDefinition("users", [
        "clerkId": v.string(),
        "email": v.string(),
        "name": v.string(),
        "imageUrl": v.optional(v.string()),
        "createdAt": v.number(),
    ]).index("by_clerk_id", ["clerkId"]),
    TableDefinition("channels", [
        "name": v.string(),
        "description": v.optional(v.string()),
        "isPrivate": v.boolean(),
        "ownerId": v.id("users"),
        "memberCount": v.number(),
        "lastActivityAt": v.number(),
    ]).index("by_last_activity", ["lastActivityAt"]),
    TableDefinition("messages", [
        "channelId": v.id("channels"),
        "userId": v.id("users"),
        "content": v.string(),
        "timestamp": v.number(),
        "editedAt": v.optional(v.number()),
        "isAiGenerated": v.optional(v.boolean()),
        "aiModel": v.optional(v.string()),
    ])
    .index("by_channel", ["channelId", "timestamp"])
    .index("by_user", ["userId", "timestamp"]),
    TableDefinition("aiConversations", [
        "userId": v.id("users"),
        "title": v.string(),
        "lastMessageAt": v.number(),
    ]).index("by_user", ["userId", "lastMessageAt"]),
    // The turns of an AI conversation. An AI answer is written while it streams: `content`
    // grows, `isComplete` turns true at the end, `error` says why it ended early.
    TableDefinition("aiMessages", [
        "conversationId": v.id("aiConversations"),
        "userId": v.id("users"),
        "content": v.string(),
        "isAiGenerated": v.boolean(),
        "isComplete": v.boolean(),
        "error": v.optional(v.string()),
        "aiModel": v.optional(v.string()),
        "createdAt": v.number(),
        // When the text last changed, and how many streaming updates wrote it: the stall
        // watchdog reads the first, the debounce's tests count the second.
        "updatedAt": v.number(),
        "updates": v.number(),
    ]).index("by_conversation", ["conversationId", "createdAt"]),
    // Written by the daily summaries cron (`ai:generateUserSummary`).
    TableDefinition("dailySummaries", [
        "userId": v.id("users"),
        "content": v.string(),
        "messageCount": v.number(),
        "createdAt": v.number(),
    ]).index("by_user", ["userId", "createdAt"]),
    // Diagnostics only: runs of scheduled test jobs, for the scheduler's tests.
    TableDefinition("jobRuns", ["tag": v.string(), "at": v.number()]).index("by_tag", ["tag"]),
    TableDefinition("counters", ["name": v.string(), "value": v.number()]).index("by_name", ["name"]),
    // Diagnostics only: the chaos suite's accounts and the record of every write it made.
    TableDefinition("chaosAccounts", ["name": v.string(), "balance": v.number()]).index("by_name", ["name"]),
    TableDefinition("chaosWrites", ["writeId": v.string(), "kind": v.string()]).index("by_write_id", ["writeId"]),
])
