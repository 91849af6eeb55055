import Foundation
import Ripple

/// The body of `POST /v1/messages`, in the API's own field names.
private struct MessagesRequest: Encodable {
    struct Turn: Encodable {
        let role: String
        let content: String
    }
    let model: String
    let max_tokens: Int
    let messages: [Turn]
    let stream: Bool
}

/// A small client of Anthropic's Messages API (`POST {base}/v1/messages`), enough for the chat
/// app: one user turn, streamed or not. Configured from the deployment's environment:
/// `ANTHROPIC_API_KEY` (required), `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`,
/// the stand-in server in tests), `ANTHROPIC_MODEL`.
struct AnthropicClient: Sendable {
    static let defaultBaseURL = "https://api.anthropic.com"
    static let defaultModel = "claude-sonnet-4-20250514"
    static let apiVersion = "2023-06-01"

    let baseURL: String
    let apiKey: String
    let model: String

    /// The client the environment configures, or `nil` without an API key.
    init?(_ env: DeploymentEnvironment) {
        guard let key = env["ANTHROPIC_API_KEY"] else { return nil }
        apiKey = key
        var base = env["ANTHROPIC_BASE_URL"] ?? Self.defaultBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        baseURL = base
        model = env["ANTHROPIC_MODEL"] ?? Self.defaultModel
    }

    /// Streams the answer to `prompt`, calling `onText` with each piece of text as it arrives.
    /// Returns only after `message_stop`; anything else — an `error` event, a body that ends
    /// without `message_stop`, a non-2xx status, a timeout — throws `AnthropicError`.
    func stream(_ ctx: ActionContext, prompt: String, maxTokens: Int, onText: (String) async throws -> Void) async throws {
        let response = try await send(ctx, prompt: prompt, maxTokens: maxTokens, stream: true)
        var reader = AnthropicStreamReader()
        do {
            for try await event in response.serverSentEvents() {
                switch try reader.read(event) {
                case .text(let text): try await onText(text)
                case .nothing: break
                case .finished: return
                }
            }
        } catch let error as FetchError {
            throw AnthropicError.transport(error.message)
        }
        throw AnthropicError.incomplete
    }

    /// The whole answer to `prompt` in one response (`stream: false`).
    func complete(_ ctx: ActionContext, prompt: String, maxTokens: Int) async throws -> String {
        let response = try await send(ctx, prompt: prompt, maxTokens: maxTokens, stream: false)
        let body: [UInt8]
        do { body = try await response.bytes() } catch let error as FetchError { throw AnthropicError.transport(error.message) }
        guard let message = try? JSON.parse(body), let blocks = message["content"]?.arrayValue else {
            throw AnthropicError.malformed("the response is not a message")
        }
        return blocks.compactMap { $0["type"]?.stringValue == "text" ? $0["text"]?.stringValue : nil }.joined()
    }

    private func send(_ ctx: ActionContext, prompt: String, maxTokens: Int, stream: Bool) async throws -> FetchResponse {
        let body = try JSONEncoder().encode(
            MessagesRequest(model: model, max_tokens: maxTokens, messages: [.init(role: "user", content: prompt)], stream: stream))
        let response: FetchResponse
        do {
            response = try await ctx.fetch(
                "\(baseURL)/v1/messages", method: "POST",
                headers: [
                    ("x-api-key", apiKey), ("anthropic-version", Self.apiVersion), ("content-type", "application/json"),
                    ("accept", stream ? "text/event-stream" : "application/json"),
                ],
                body: Array(body))
        } catch let error as FetchError {
            throw AnthropicError.transport(error.message)
        }
        guard (200..<300).contains(response.status) else {
            // The error body says what went wrong (`{"type":"error","error":{...}}`); read a little of it.
            let text = (try? await response.bytes()).flatMap { try? JSON.parse($0) }
            throw AnthropicError.status(response.status, text?["error"]?["message"]?.stringValue ?? "no error message")
        }
        return response
    }
}

/// What one Anthropic stream event means to the reader.
enum AnthropicStreamStep: Equatable {
    case text(String)
    case nothing
    case finished
}

/// The Messages stream's rules as a pure value: `content_block_delta` events with a `text_delta`
/// carry text, `message_stop` ends the answer, `error` fails it; `ping`, `message_start`,
/// `content_block_start/stop`, `message_delta` and unknown events (the API adds new ones) carry
/// nothing the chat needs.
struct AnthropicStreamReader {
    private(set) var finished = false

    mutating func read(_ event: ServerSentEvent) throws(AnthropicError) -> AnthropicStreamStep {
        switch event.type {
        case "content_block_delta":
            guard let json = try? JSON.parse(event.data), let delta = json["delta"] else {
                throw .malformed("a content_block_delta event is not JSON with a delta")
            }
            guard delta["type"]?.stringValue == "text_delta" else { return .nothing }
            guard let text = delta["text"]?.stringValue else { throw .malformed("a text_delta without text") }
            return .text(text)
        case "message_stop":
            finished = true
            return .finished
        case "error":
            let json = try? JSON.parse(event.data)
            throw .streamError(
                type: json?["error"]?["type"]?.stringValue ?? "error", message: json?["error"]?["message"]?.stringValue ?? "no message")
        default:
            return .nothing
        }
    }
}

/// Why an AI call failed, worded for the person reading the chat (never carries the key).
enum AnthropicError: Error, Equatable, CustomStringConvertible {
    case status(Int, String)
    case streamError(type: String, message: String)
    /// The body ended without `message_stop`: the connection dropped mid-answer.
    case incomplete
    case transport(String)
    case malformed(String)

    var description: String {
        switch self {
        case .status(let code, let message): "The AI service answered HTTP \(code): \(message)"
        case .streamError(let type, let message): "The AI service failed mid-answer (\(type)): \(message)"
        case .incomplete: "The AI service's answer was cut off (the stream ended without message_stop)"
        case .transport(let message): "Could not reach the AI service: \(message)"
        case .malformed(let message): "The AI service sent something unexpected: \(message)"
        }
    }
}
