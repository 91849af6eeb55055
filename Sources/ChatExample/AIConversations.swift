import Ripple

public enum AIConversations {
    public struct CreateArgs: Codable, Sendable {
        public var title: String
    }

    public struct ConversationArgs: Codable, Sendable {
        public var conversationId: ID<AIConversation>
    }

    public struct SendArgs: Codable, Sendable {
        public var conversationId: ID<AIConversation>
        public var content: String
    }

    public static let create = MutationReference<CreateArgs, ID<AIConversation>>("aiConversations:create")
    public static let getMessages = QueryReference<ConversationArgs, [Stored<AIMessage>]>("aiConversations:getMessages")
    public static let send = MutationReference<SendArgs, ID<AIMessage>>("aiConversations:send")
    static let ownerOf = QueryReference<ConversationArgs, ID<User>>("aiConversations:ownerOf")
}

extension AI {
    public struct GenerateAIResponseArgs: Codable, Sendable {
        public var conversationId: ID<AIConversation>
        public var userMessage: String
    }

    public struct ReplyArgs: Codable, Sendable {
        public var conversationId: ID<AIConversation>
        public var userId: ID<User>
        public var userMessage: String
    }

    public static let generateAIResponse = ActionReference<GenerateAIResponseArgs, ID<AIMessage>>("ai:generateAIResponse")
    static let replyInConversation = ActionReference<ReplyArgs, ID<AIMessage>>("ai:replyInConversation")
}

/// The internal mutations that write a streaming answer (the seed's `api.messages.*AIMessage*`).
enum AIMessages {
    struct PlaceholderArgs: Codable, Sendable {
        var conversationId: ID<AIConversation>
        var userId: ID<User>
        var aiModel: String
        var stallMs: Double
    }

    struct UpdateArgs: Codable, Sendable {
        var messageId: ID<AIMessage>
        var content: String
        var isComplete: Bool
        var error: String?
    }

    struct StallArgs: Codable, Sendable {
        var messageId: ID<AIMessage>
        var stallMs: Double
    }

    static let createAIMessagePlaceholder = MutationReference<PlaceholderArgs, ID<AIMessage>>("messages:createAIMessagePlaceholder")
    static let updateStreamingMessage = MutationReference<UpdateArgs, Bool>("messages:updateStreamingMessage")
    static let finishStalledMessage = MutationReference<StallArgs, String>("messages:finishStalledMessage")
}

/// The seed's AI conversation: the database is the streaming layer. An action asks the model
/// for an answer with `stream: true` and writes the growing text into one message through a
/// mutation at most every 100 ms; every client subscribed to the conversation sees it grow.
extension ChatApp {
    /// Longest a conversation's history query returns (oldest first).
    static let conversationMessageLimit = 1_000
    /// The tokens an answer may use.
    static let answerMaxTokens = 2_000
    /// At most one streaming update per this interval (the seed's "every 100ms").
    static let streamingUpdateInterval = Duration.milliseconds(100)
    /// An answer whose text has not changed for this long while incomplete is finalised as
    /// interrupted (`CHAT_AI_STALL_SECONDS` in the deployment's environment).
    static let defaultStallSeconds = 30.0

    static func registerAIConversations(_ functions: inout FunctionRegistry) {
        functions.mutation(AIConversations.create) { ctx, args in
            let user = try requireUser(ctx.db, ctx.auth)
            return try ctx.db.insert(AIConversation(userId: user.id, title: args.title, lastMessageAt: ctx.now))
        }

        /// The conversation's messages, oldest first.
        functions.query(AIConversations.getMessages) { ctx, args in
            let conversation = try requireOwnConversation(ctx.db, ctx.auth, args.conversationId)
            return try ctx.db.query(AIMessage.self)
                .withIndex("by_conversation") { $0.eq(\.conversationId, conversation.id) }
                .take(conversationMessageLimit)
        }

        /// Stores the user's message and schedules the AI's reply. Scheduled functions carry no
        /// identity, so the reply's action gets the user as an argument.
        functions.mutation(AIConversations.send) { ctx, args in
            let conversation = try requireOwnConversation(ctx.db, ctx.auth, args.conversationId)
            let messageId = try ctx.db.insert(AIMessage(
                conversationId: conversation.id, userId: conversation.userId, content: args.content, isAiGenerated: false,
                isComplete: true, createdAt: ctx.now, updatedAt: ctx.now, updates: 0))
            try ctx.db.patch(conversation.id, ["lastMessageAt": ctx.now])
            try ctx.scheduler.runAfter(
                0, AI.replyInConversation, .init(conversationId: conversation.id, userId: conversation.userId, userMessage: args.content))
            return messageId
        }

        /// The caller's users id if they own the conversation (for the action, which has no db).
        functions.internalQuery(AIConversations.ownerOf) { ctx, args in
            try requireOwnConversation(ctx.db, ctx.auth, args.conversationId).userId
        }

        /// The seed's action: answers `userMessage` into a new AI message of the conversation,
        /// streaming; returns the message's id.
        functions.action(AI.generateAIResponse) { ctx, args in
            // Before anything else: an anonymous caller costs no request to the AI service.
            guard ctx.auth.getUserIdentity() != nil else { throw UserError("Unauthenticated") }
            let userId = try await ctx.runQuery(AIConversations.ownerOf, .init(conversationId: args.conversationId))
            return try await streamAnswer(ctx, conversationId: args.conversationId, userId: userId, prompt: args.userMessage)
        }

        /// `aiConversations:send`'s reply, run by the scheduler.
        functions.internalAction(AI.replyInConversation) { ctx, args in
            try await streamAnswer(ctx, conversationId: args.conversationId, userId: args.userId, prompt: args.userMessage)
        }

        functions.internalMutation(AIMessages.createAIMessagePlaceholder) { ctx, args in
            let id = try ctx.db.insert(AIMessage(
                conversationId: args.conversationId, userId: args.userId, content: "", isAiGenerated: true, isComplete: false,
                aiModel: args.aiModel, createdAt: ctx.now, updatedAt: ctx.now, updates: 0))
            try ctx.scheduler.runAfter(args.stallMs, AIMessages.finishStalledMessage, .init(messageId: id, stallMs: args.stallMs))
            return id
        }

        /// Writes the answer so far. A message already complete stays as it is (the watchdog may
        /// have finalised it); returns whether it was written.
        functions.internalMutation(AIMessages.updateStreamingMessage) { ctx, args in
            guard let message = try ctx.db.get(args.messageId), !message.isComplete else { return false }
            var changes: [String: (any ValueConvertible)?] = [
                "content": args.content, "isComplete": args.isComplete, "updatedAt": ctx.now, "updates": message.updates + 1,
            ]
            if let error = args.error { changes["error"] = error }
            try ctx.db.patch(args.messageId, changes)
            return true
        }

        /// The stall watchdog, scheduled with every placeholder: an answer whose action died
        /// (its node or the scheduler killed mid-stream) would otherwise look in progress forever.
        /// One that has not changed for `stallMs` is finalised with the text it has and an error;
        /// one still moving is looked at again `stallMs` after its last change.
        functions.internalMutation(AIMessages.finishStalledMessage) { ctx, args in
            guard let message = try ctx.db.get(args.messageId), !message.isComplete else { return "complete" }
            guard ctx.now - message.updatedAt >= args.stallMs else {
                try ctx.scheduler.runAt(message.updatedAt + args.stallMs, AIMessages.finishStalledMessage, args)
                return "watching"
            }
            try ctx.db.patch(args.messageId, ["isComplete": true, "updatedAt": ctx.now, "error": interruptedMessage])
            return "finalised"
        }
    }

    /// What a user sees on an answer whose generation stopped without saying why.
    static let interruptedMessage = "The answer was interrupted (the server generating it stopped); ask again to get a full answer."

    /// Creates the AI message, streams the answer into it, and finishes it: complete with the
    /// whole text, or complete with `error` and the text received so far. Failures are thrown
    /// to the caller too, worded without any secret.
    static func streamAnswer(
        _ ctx: ActionContext, conversationId: ID<AIConversation>, userId: ID<User>, prompt: String
    ) async throws -> ID<AIMessage> {
        guard let client = AnthropicClient(ctx.env) else {
            throw UserError("The AI is not configured on this deployment: set ANTHROPIC_API_KEY")
        }
        let stallSeconds = ctx.env["CHAT_AI_STALL_SECONDS"].flatMap(Double.init) ?? defaultStallSeconds
        let messageId = try await ctx.runMutation(
            AIMessages.createAIMessagePlaceholder,
            .init(conversationId: conversationId, userId: userId, aiModel: client.model, stallMs: stallSeconds * 1000))
        func write(_ content: String, complete: Bool, error: String? = nil) async throws {
            try await ctx.runMutation(
                AIMessages.updateStreamingMessage, .init(messageId: messageId, content: content, isComplete: complete, error: error))
        }
        var content = ""
        var throttle = UpdateThrottle(interval: streamingUpdateInterval)
        do {
            try await client.stream(ctx, prompt: prompt, maxTokens: answerMaxTokens) { text in
                content += text
                if throttle.allows(at: .now) { try await write(content, complete: false) }
            }
            try await write(content, complete: true)
        } catch {
            let reason = ctx.env.redact(error is CancellationError ? interruptedMessage : "\(error)")
            // Best effort: if even this write fails (the node is going down), the watchdog
            // finalises the message.
            try? await write(content, complete: true, error: reason)
            throw UserError(reason)
        }
        return messageId
    }

    /// The caller's conversation, or an error saying why not.
    static func requireOwnConversation(
        _ db: DatabaseReader, _ auth: Auth, _ conversationId: ID<AIConversation>
    ) throws -> Stored<AIConversation> {
        let user = try requireUser(db, auth)
        guard let conversation = try db.get(conversationId), conversation.userId == user.id else {
            throw UserError("Conversation \(conversationId) does not exist or is not yours")
        }
        return conversation
    }
}

/// The debounce of streaming updates: at most one per `interval`, the first at once. Text that
/// arrives inside the interval waits for the next piece of text or the final write.
struct UpdateThrottle {
    let interval: Duration
    private var last: ContinuousClock.Instant?

    init(interval: Duration) { self.interval = interval }

    /// Whether an update may go out at `now`; if so, `now` starts the next interval.
    mutating func allows(at now: ContinuousClock.Instant) -> Bool {
        if let last, now - last < interval { return false }
        last = now
        return true
    }
}
