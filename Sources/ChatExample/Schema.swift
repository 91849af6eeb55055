import Ripple

// The seed's schema as Swift types: each struct is one table's documents, and the schema is
// declared from them, so a field exists in both or the node does not start.

/// A signed-in person, kept in step with Clerk.
public struct User: TableDocument, Equatable {
    public static let tableName = "users"
    public var clerkId: String
    public var email: String
    public var name: String
    public var imageUrl: String?
    public var createdAt: Double
}

public struct Channel: TableDocument {
    public static let tableName = "channels"
    public var name: String
    public var description: String?
    public var isPrivate: Bool
    public var ownerId: ID<User>
    public var memberCount: Double
    public var lastActivityAt: Double
}

public struct Message: TableDocument {
    public static let tableName = "messages"
    public var channelId: ID<Channel>
    public var userId: ID<User>
    public var content: String
    public var timestamp: Double
    public var editedAt: Double?
    /// For AI-generated messages.
    public var isAiGenerated: Bool?
    public var aiModel: String?
}

public struct AIConversation: TableDocument {
    public static let tableName = "aiConversations"
    public var userId: ID<User>
    public var title: String
    public var lastMessageAt: Double
}

/// A turn of an AI conversation. An AI answer is written while it streams: `content` grows,
/// `isComplete` turns true at the end, `error` says why it ended early.
public struct AIMessage: TableDocument {
    public static let tableName = "aiMessages"
    public var conversationId: ID<AIConversation>
    public var userId: ID<User>
    public var content: String
    public var isAiGenerated: Bool
    public var isComplete: Bool
    public var error: String?
    public var aiModel: String?
    public var createdAt: Double
    /// When the text last changed, and how many streaming updates wrote it: the stall watchdog
    /// reads the first, the debounce's tests count the second.
    public var updatedAt: Double
    public var updates: Double
}

/// Written by the daily summaries cron (`ai:generateUserSummary`).
public struct DailySummary: TableDocument {
    public static let tableName = "dailySummaries"
    public var userId: ID<User>
    public var content: String
    public var messageCount: Double
    public var createdAt: Double
}

/// Diagnostics only: a run of a scheduled test job, for the scheduler's tests.
struct JobRun: TableDocument {
    static let tableName = "jobRuns"
    var tag: String
    var at: Double
}

/// Diagnostics only: a named count.
struct Counter: TableDocument {
    static let tableName = "counters"
    var name: String
    var value: Double
}

/// Diagnostics only: the chaos suite's accounts.
struct ChaosAccount: TableDocument {
    static let tableName = "chaosAccounts"
    var name: String
    var balance: Double
}

/// Diagnostics only: the record of every write the chaos suite made.
struct ChaosWrite: TableDocument {
    static let tableName = "chaosWrites"
    var writeId: String
    var kind: String
}

/// The seed's chat schema: users (from Clerk), channels, messages, AI conversations.
public let chatSchema = Schema([
    TableDefinition(User.self).index("by_clerk_id", ["clerkId"]),
    TableDefinition(Channel.self).index("by_last_activity", ["lastActivityAt"]),
    TableDefinition(Message.self)
        .index("by_channel", ["channelId", "timestamp"])
        .index("by_user", ["userId", "timestamp"]),
    TableDefinition(AIConversation.self).index("by_user", ["userId", "lastMessageAt"]),
    TableDefinition(AIMessage.self).index("by_conversation", ["conversationId", "createdAt"]),
    TableDefinition(DailySummary.self).index("by_user", ["userId", "createdAt"]),
    TableDefinition(JobRun.self).index("by_tag", ["tag"]),
    TableDefinition(Counter.self).index("by_name", ["name"]),
    TableDefinition(ChaosAccount.self).index("by_name", ["name"]),
    TableDefinition(ChaosWrite.self).index("by_write_id", ["writeId"]),
])
