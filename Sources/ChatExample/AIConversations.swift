import Ripple

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
        functions.mutation("aiConversations:create", args: ["title": v.string()]) { ctx, args in
            let user = try requireUser(ctx.db, ctx.auth)
            return try ctx.db.insert("aiConversations", [
                "userId": .string(user.id), "title": .string(try args.string("title")), "lastMessageAt": .float64(ctx.now),
            ])
        }

        /// The conversation's messages, oldest first.
        functions.query("aiConversations:getMessages", args: ["conversationId": v.id("aiConversations")]) { ctx, args in
            let conversation = try requireOwnConversation(ctx.db, ctx.auth, try args.string("conversationId"))
            return try ctx.db.query("aiMessages")
                .withIndex("by_conversation") { $0.eq("conversationId", conversation.id) }
                .take(conversationMessageLimit)
        }

        /// Stores the user's message and schedules the AI's reply. Scheduled functions carry no
        /// identity, so the reply's action gets the user as an argument.
        functions.mutation("aiConversations:send", args: ["conversationId": v.id("aiConversations"), "content": v.string()]) { ctx, args in
            let conversation = try requireOwnConversation(ctx.db, ctx.auth, try args.string("conversationId"))
            let content = try args.string("content")
            let userId = conversation["userId"]!
            let messageId = try ctx.db.insert("aiMessages", [
                "conversationId": .string(conversation.id), "userId": userId, "content": .string(content),
                "isAiGenerated": .boolean(false), "isComplete": .boolean(true), "createdAt": .float64(ctx.now),
                "updatedAt": .float64(ctx.now), "updates": .float64(0),
            ])
            try ctx.db.patch(conversation.id, ["lastMessageAt": .float64(ctx.now)])
            try ctx.scheduler.runAfter(0, "ai:replyInConversation", [
                "conversationId": .string(conversation.id), "userId": userId, "userMessage": .string(content),
            ])
            return messageId
        }

        /// The caller's users id if they own the conversation (for the action, which has no db).
        functions.internalQuery("aiConversations:ownerOf", args: ["conversationId": v.id("aiConversations")]) { ctx, args in
            try requireOwnConversation(ctx.db, ctx.auth, try args.string("conversationId"))["userId"]!
        }

        /// The seed's action: answers `userMessage` into a new AI message of the conversation,
        /// streaming; returns the message's id.
        functions.action(
            "ai:generateAIResponse", args: ["conversationId": v.id("aiConversations"), "userMessage": v.string()]
        ) { ctx, args in
            // Before anything else: an anonymous caller costs no request to the AI service.
            guard ctx.auth.getUserIdentity() != nil else { throw UserError("Unauthenticated") }
            let conversationId = try args.string("conversationId")
            let userId = try await ctx.runQuery("aiConversations:ownerOf", ["conversationId": .string(conversationId)])
            return try await streamAnswer(ctx, conversationId: conversationId, userId: userId, prompt: try args.string("userMessage"))
        }

        /// `aiConversations:send`'s reply, run by the scheduler.
        functions.internalAction(
            "ai:replyInConversation",
            args: ["conversationId": v.id("aiConversations"), "userId": v.id("users"), "userMessage": v.string()]
        ) { ctx, args in
            try await streamAnswer(
                ctx, conversationId: try args.string("conversationId"), userId: args["userId"]!, prompt: try args.string("userMessage"))
        }

        functions.internalMutation(
            "messages:createAIMessagePlaceholder",
            args: ["conversationId": v.id("aiConversations"), "userId": v.id("users"), "aiModel": v.string(), "stallMs": v.number()]
        ) { ctx, args in
            let id = try ctx.db.insert("aiMessages", [
                "conversationId": .string(try args.string("conversationId")), "userId": args["userId"]!, "content": .string(""),
                "isAiGenerated": .boolean(true), "isComplete": .boolean(false), "aiModel": .string(try args.string("aiModel")),
                "createdAt": .float64(ctx.now), "updatedAt": .float64(ctx.now), "updates": .float64(0),
            ])
            let stallMs = try args.double("stallMs")
            try ctx.scheduler.runAfter(stallMs, "messages:finishStalledMessage", ["messageId": .string(id), "stallMs": .float64(stallMs)])
            return id
        }

        /// Writes the answer so far. A message already complete stays as it is (the watchdog may
        /// have finalised it); returns whether it was written.
        functions.internalMutation(
            "messages:updateStreamingMessage",
            args: ["messageId": v.id("aiMessages"), "content": v.string(), "isComplete": v.boolean(), "error": v.optional(v.string())]
        ) { ctx, args in
            let id = try args.string("messageId")
            guard let message = try ctx.db.get(id), message["isComplete"]?.boolValue == false else { return false }
            var changes: [String: Value?] = [
                "content": .string(try args.string("content")), "isComplete": .boolean(try args.bool("isComplete")),
                "updatedAt": .float64(ctx.now), "updates": .float64((message["updates"]?.doubleValue ?? 0) + 1),
            ]
            if let error = try args.optionalString("error") { changes["error"] = .string(error) }
            try ctx.db.patch(id, changes)
            return true
        }

        /// The stall watchdog, scheduled with every placeholder: an answer whose action died
        /// (its node or the scheduler killed mid-stream) would otherwise look in progress forever.
        /// One that has not changed for `stallMs` is finalised with the text it has and an error;
        /// one still moving is looked at again `stallMs` after its last change.
        functions.internalMutation("messages:finishStalledMessage", args: ["messageId": v.id("aiMessages"), "stallMs": v.number()]) {
            ctx, args in
            let id = try args.string("messageId")
            let stallMs = try args.double("stallMs")
            guard let message = try ctx.db.get(id), message["isComplete"]?.boolValue == false else { return "complete" }
            let updatedAt = message["updatedAt"]?.doubleValue ?? 0
            guard ctx.now - updatedAt >= stallMs else {
                try ctx.scheduler.runAt(updatedAt + stallMs, "messages:finishStalledMessage", ["messageId": .string(id), "stallMs": .float64(stallMs)])
                return "watching"
            }
            try ctx.db.patch(id, [
                "isComplete": .boolean(true), "updatedAt": .float64(ctx.now),
                "error": .string(interruptedMessage),
            ])
            return "finalised"
        }
    }

    /// What a user sees on an answer whose generation stopped without saying why.
    static let interruptedMessage = "The answer was interrupted (the server generating it stopped); ask again to get a full answer."

    /// Creates the AI message, streams the answer into it, and finishes it: complete with the
    /// whole text, or complete with `error` and the text received so far. Failures are thrown
    /// to the caller too, worded without any secret.
    static func streamAnswer(_ ctx: ActionContext, conversationId: String, userId: Value, prompt: String) async throws -> String {
        guard let client = AnthropicClient(ctx.env) else {
            throw UserError("The AI is not configured on this deployment: set ANTHROPIC_API_KEY")
        }
        let stallSeconds = ctx.env["CHAT_AI_STALL_SECONDS"].flatMap(Double.init) ?? defaultStallSeconds
        let placeholder = try await ctx.runMutation("messages:createAIMessagePlaceholder", [
            "conversationId": .string(conversationId), "userId": userId, "aiModel": .string(client.model),
            "stallMs": .float64(stallSeconds * 1000),
        ])
        guard let messageId = placeholder.stringValue else { throw UserError("createAIMessagePlaceholder returned no id") }
        func write(_ content: String, complete: Bool, error: String? = nil) async throws {
            var args: [String: Value] = ["messageId": .string(messageId), "content": .string(content), "isComplete": .boolean(complete)]
            if let error { args["error"] = .string(error) }
            _ = try await ctx.runMutation("messages:updateStreamingMessage", args)
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
    static func requireOwnConversation(_ db: DatabaseReader, _ auth: Auth, _ conversationId: String) throws -> Document {
        let user = try requireUser(db, auth)
        guard let conversation = try db.get(conversationId), conversation["userId"]?.stringValue == user.id else {
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
