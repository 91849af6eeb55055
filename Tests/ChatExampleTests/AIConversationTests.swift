import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

@testable import ChatExample

/// An AI service in memory: answers every request with the scripted SSE body, chunk by chunk.
final class ScriptedAIService: Fetcher {
    let status: Int
    let chunks: [String]
    let gap: Duration
    let requests = Mutex<[FetchRequest]>([])

    init(status: Int = 200, chunks: [String], gap: Duration = .zero) {
        self.status = status
        self.chunks = chunks
        self.gap = gap
    }

    func fetch(_ request: FetchRequest) async throws -> FetchResponse {
        requests.withLock { $0.append(request) }
        let chunks = self.chunks.map { Array($0.utf8) }
        let gap = self.gap
        return FetchResponse(status: status, headers: [], body: FetchBody {
            var remaining = chunks[...]
            return {
                if gap > .zero { try await Task.sleep(for: gap) }
                return remaining.popFirst()
            }
        })
    }

    static func event(_ type: String, _ json: String) -> String { "event: \(type)\ndata: \(json)\n\n" }
    static func delta(_ text: String) -> String {
        event("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\#(text)"}}"#)
    }
    static let start = event("message_start", #"{"type":"message_start","message":{"id":"m","content":[]}}"#) + event("ping", #"{"type":"ping"}"#)
    static let stop = event("message_stop", #"{"type":"message_stop"}"#)
}

@Suite(.serialized) struct AIConversationTests {
    static let key = "sk-ant-test-0123456789abcdef"
    let directory = TemporaryDirectory()
    let ada = Identity.user(UserIdentity(subject: "user_ada", issuer: "https://issuer.test", claims: ["name": "Ada"]))

    func engine(_ service: ScriptedAIService, key: String? = AIConversationTests.key) throws -> Engine {
        var options = EngineOptions()
        options.fetcher = service
        var env = ["ANTHROPIC_BASE_URL": "http://ai.test/", "CHAT_AI_STALL_SECONDS": "3600"]
        env["ANTHROPIC_API_KEY"] = key
        options.environment = DeploymentEnvironment(env)
        return try Engine.open(path: directory.database, app: ChatApp.app, options: options)
    }

    func conversation(_ engine: Engine) async throws -> String {
        _ = try await engine.mutation("users:upsertUser", identity: ada)
        return try await engine.mutation("aiConversations:create", ["title": "t"], identity: ada).value.stringValue!
    }

    func messages(_ engine: Engine, _ conversation: String) async throws -> [Value] {
        try await engine.query("aiConversations:getMessages", ["conversationId": .string(conversation)], identity: ada).value.arrayValue!
    }

    @Test func anAnswerStreamsIntoOneMessageThatEndsComplete() async throws {
        let pieces = (0..<12).map { "piece\($0) " }
        let service = ScriptedAIService(chunks: [ScriptedAIService.start] + pieces.map(ScriptedAIService.delta) + [ScriptedAIService.stop], gap: .milliseconds(30))
        let engine = try engine(service)
        let id = try await conversation(engine)
        let started = ContinuousClock.now
        let messageId = try await engine.action("ai:generateAIResponse", ["conversationId": .string(id), "userMessage": "hi"], identity: ada)
        let elapsed = ContinuousClock.now - started
        let stored = try await messages(engine, id)
        #expect(stored.count == 1)
        let message = stored[0]
        #expect(message["_id"] == messageId)
        #expect(message["content"]?.stringValue == pieces.joined())
        #expect(message["isComplete"] == true)
        #expect(message["isAiGenerated"] == true)
        #expect(message["error"] == nil)
        // At most one update per 100 ms of the stream (12 pieces 30 ms apart: ~360 ms unloaded), plus the final one.
        let updates = Int(message["updates"]?.doubleValue ?? 0)
        let bound = Int(elapsed / .milliseconds(100)) + 2
        #expect(updates >= 2 && updates <= bound, "\(updates) updates in \(elapsed)")
        let request = try #require(service.requests.withLock { $0.first })
        #expect(request.url == "http://ai.test/v1/messages")
        #expect(request.headers.contains { $0.name == "x-api-key" && $0.value == Self.key })
        #expect(request.headers.contains { $0.name == "anthropic-version" && $0.value == "2023-06-01" })
        let body = try JSON.parse(request.body ?? [])
        #expect(body["stream"] == .bool(true))
        #expect(body["max_tokens"] == .int(2000))
        #expect(body["messages"]?.arrayValue?.first?["content"] == .string("hi"))
    }

    @Test(arguments: [
        ("error event", [ScriptedAIService.start, ScriptedAIService.delta("half "),
                         ScriptedAIService.event("error", #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)],
         "The AI service failed mid-answer (overloaded_error): Overloaded"),
        ("no message_stop", [ScriptedAIService.start, ScriptedAIService.delta("half ")],
         "The AI service's answer was cut off (the stream ended without message_stop)"),
    ])
    func aFailedStreamEndsCompleteWithTheErrorAndTheTextSoFar(_ scenario: (String, [String], String)) async throws {
        let engine = try engine(ScriptedAIService(chunks: scenario.1))
        let id = try await conversation(engine)
        await #expect(throws: FunctionError(.thrown, "Uncaught Error: \(scenario.2)")) {
            try await engine.action("ai:generateAIResponse", ["conversationId": .string(id), "userMessage": "hi"], identity: ada)
        }
        let message = try #require(try await messages(engine, id).first)
        #expect(message["isComplete"] == true)
        #expect(message["error"]?.stringValue == scenario.2)
        #expect(message["content"]?.stringValue == "half ")
    }

    @Test func aRefusedKeyFailsWithoutRepeatingTheKey() async throws {
        let service = ScriptedAIService(status: 401, chunks: [#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key \#(Self.key)"}}"#])
        let engine = try engine(service)
        let id = try await conversation(engine)
        await #expect(throws: FunctionError(.thrown, "Uncaught Error: The AI service answered HTTP 401: invalid x-api-key [ANTHROPIC_API_KEY redacted]")) {
            try await engine.action("ai:generateAIResponse", ["conversationId": .string(id), "userMessage": "hi"], identity: ada)
        }
    }

    @Test func anAnonymousCallerCostsNoRequest() async throws {
        let service = ScriptedAIService(chunks: [])
        let engine = try engine(service)
        let id = try await conversation(engine)
        await #expect(throws: FunctionError(.thrown, "Uncaught Error: Unauthenticated")) {
            try await engine.action("ai:generateAIResponse", ["conversationId": .string(id), "userMessage": "hi"])
        }
        #expect(service.requests.withLock { $0.count } == 0)
    }

    @Test func clientsCannotCallTheInternalFunctions() async throws {
        let engine = try engine(ScriptedAIService(chunks: []))
        let id = try await conversation(engine)
        await #expect(throws: FunctionError(.unknownFunction, "Could not find public function for 'messages:createAIMessagePlaceholder'. Did you forget to define it?")) {
            try await engine.mutation("messages:createAIMessagePlaceholder", ["conversationId": .string(id)], identity: ada)
        }
        await #expect(throws: FunctionError(.unknownFunction, "Could not find public function for 'messages:updateStreamingMessage'. Did you forget to define it?")) {
            try await engine.mutation("messages:updateStreamingMessage", [:], identity: ada)
        }
    }

    @Test func theWatchdogFinalisesAMessageThatStoppedMoving() async throws {
        let engine = try engine(ScriptedAIService(chunks: []))
        let id = try await conversation(engine)
        let user = try await engine.query("users:getCurrentUser", identity: ada).value["_id"]!
        let messageId = try await engine.mutation(
            "messages:createAIMessagePlaceholder", ["conversationId": .string(id), "userId": user, "aiModel": "m", "stallMs": 0],
            caller: .server
        ).value
        _ = try await engine.mutation(
            "messages:updateStreamingMessage", ["messageId": messageId, "content": "so far", "isComplete": false], caller: .server)
        #expect(try await engine.mutation("messages:finishStalledMessage", ["messageId": messageId, "stallMs": 0], caller: .server).value == "finalised")
        let message = try #require(try await messages(engine, id).first)
        #expect(message["isComplete"] == true)
        #expect(message["content"] == "so far")
        #expect(message["error"]?.stringValue == ChatApp.interruptedMessage)
        // A late update from an action that was only slow changes nothing.
        #expect(try await engine.mutation(
            "messages:updateStreamingMessage", ["messageId": messageId, "content": "more", "isComplete": true], caller: .server).value == false)
    }
}

@Suite(.serialized) struct AISummaryTests {
    let directory = TemporaryDirectory()
    let ada = Identity.user(UserIdentity(subject: "user_ada", issuer: "https://issuer.test", claims: ["name": "Ada"]))

    @Test func aUsersSummaryIsWrittenByTheAIWithoutStreaming() async throws {
        let service = ScriptedAIService(chunks: [#"{"type":"message","content":[{"type":"text","text":"A quiet day, Ada."}]}"#])
        var options = EngineOptions()
        options.fetcher = service
        options.environment = DeploymentEnvironment(["ANTHROPIC_API_KEY": AIConversationTests.key])
        let engine = try Engine.open(path: directory.database, app: ChatApp.app, options: options)
        let userId = try await engine.mutation("users:upsertUser", identity: ada).value
        _ = try await engine.action("ai:generateUserSummary", ["userId": userId], caller: .server)
        let summary = try await engine.query("ai:getMySummary", identity: ada).value
        #expect(summary["content"] == "A quiet day, Ada.")
        #expect(summary["messageCount"] == 0)
        let request = try #require(service.requests.withLock { $0.first })
        #expect(request.url == "https://api.anthropic.com/v1/messages")
        #expect(try JSON.parse(request.body ?? [])["stream"] == .bool(false))
    }
}

struct UpdateThrottleTests {
    @Test func atMostOneUpdatePerInterval() {
        var throttle = UpdateThrottle(interval: .milliseconds(100))
        let start = ContinuousClock.now
        let answers = [0, 99, 100, 150, 199, 200].map { throttle.allows(at: start + .milliseconds($0)) }
        #expect(answers == [true, false, true, false, false, true])
    }
}

struct AnthropicStreamReaderTests {
    @Test func textDeltasCarryTextAndMessageStopFinishes() throws {
        var reader = AnthropicStreamReader()
        #expect(try reader.read(ServerSentEvent(type: "ping", data: "{}")) == .nothing)
        #expect(try reader.read(ServerSentEvent(type: "content_block_delta", data: #"{"delta":{"type":"text_delta","text":"hé"}}"#)) == .text("hé"))
        #expect(try reader.read(ServerSentEvent(type: "content_block_delta", data: #"{"delta":{"type":"input_json_delta","partial_json":"{"}}"#)) == .nothing)
        #expect(try reader.read(ServerSentEvent(type: "some_future_event", data: "{}")) == .nothing)
        #expect(try reader.read(ServerSentEvent(type: "message_stop", data: "{}")) == .finished)
    }

    @Test func anErrorEventFails() {
        var reader = AnthropicStreamReader()
        #expect(throws: AnthropicError.streamError(type: "overloaded_error", message: "Overloaded")) {
            try reader.read(ServerSentEvent(type: "error", data: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#))
        }
    }
}
