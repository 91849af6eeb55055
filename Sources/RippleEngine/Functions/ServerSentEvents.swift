/// One server-sent event (the `text/event-stream` format): its `event:` type (`"message"` when
/// unnamed), its `data:` lines joined by newlines, and its `id:`.
public struct ServerSentEvent: Sendable, Equatable {
    public var type: String
    public var data: String
    public var id: String?

    public init(type: String = "message", data: String, id: String? = nil) {
        self.type = type
        self.data = data
        self.id = id
    }
}

/// An incremental parser of `text/event-stream` bytes, as the HTML standard defines it: feed it
/// chunks however the network split them and it returns each event once its blank line has
/// arrived. Lines end in LF, CRLF or CR (a CRLF split across two chunks is one line end).
/// There was no SSE parser among the packages we may use, so this is ours; it is a pure value,
/// tested on split and joined chunks.
public struct ServerSentEventParser: Sendable {
    /// Longest event accepted (data and the line being read); a longer one fails the stream
    /// instead of growing memory without bound.
    public let maxEventSize: Int

    private var line: [UInt8] = []
    private var afterCR = false
    private var started = false
    private var type = ""
    private var data: [UInt8] = []
    private var hasData = false
    private var lastID: String?

    public init(maxEventSize: Int = 1 << 20) { self.maxEventSize = maxEventSize }

    /// The stream's event is larger than `maxEventSize`.
    public struct EventTooLarge: Error, Sendable, CustomStringConvertible {
        public let limit: Int
        public var description: String { "A server-sent event is larger than \(limit) bytes" }
    }

    /// Parses `chunk`; returns the events it completed, in order.
    public mutating func feed(_ chunk: some Sequence<UInt8>) throws -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in chunk {
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\r"):
                afterCR = true
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\n"):
                if let event = endLine() { events.append(event) }
            default:
                line.append(byte)
                guard line.count + data.count <= maxEventSize else { throw EventTooLarge(limit: maxEventSize) }
            }
        }
        return events
    }

    /// Handles one complete line; a blank line dispatches the event being built.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        var text = line[...]
        if !started {
            started = true
            if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = text.dropFirst(3) }
        }
        if text.isEmpty { return dispatch() }
        if text.first == UInt8(ascii: ":") { return nil }
        let colon = text.firstIndex(of: UInt8(ascii: ":"))
        let name = String(decoding: text[..<(colon ?? text.endIndex)], as: UTF8.self)
        var value = colon.map { text[text.index(after: $0)...] } ?? []
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        switch name {
        case "event":
            type = String(decoding: value, as: UTF8.self)
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        case "id":
            if !value.contains(0) { lastID = String(decoding: value, as: UTF8.self) }
        default:
            break  // `retry:` and unknown fields: nothing a one-shot reader needs.
        }
        return nil
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            type = ""
            data.removeAll(keepingCapacity: true)
            hasData = false
        }
        guard hasData else { return nil }
        return ServerSentEvent(type: type.isEmpty ? "message" : type, data: String(decoding: data, as: UTF8.self), id: lastID)
    }
}

extension FetchResponse {
    /// The body parsed as server-sent events, event by event as they arrive. The sequence simply
    /// ends when the body does (an event cut off mid-way is dropped, as the standard says); a
    /// protocol on top (like Anthropic's `message_stop`) tells a complete stream from a cut one.
    public func serverSentEvents(maxEventSize: Int = 1 << 20) -> ServerSentEventStream {
        ServerSentEventStream(body: body, maxEventSize: maxEventSize)
    }
}

/// A response body read as server-sent events (`FetchResponse.serverSentEvents`).
public struct ServerSentEventStream: AsyncSequence, Sendable {
    public typealias Element = ServerSentEvent

    let body: FetchBody
    let maxEventSize: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: FetchBody.AsyncIterator
        var parser: ServerSentEventParser
        var ready: ArraySlice<ServerSentEvent> = []

        public mutating func next() async throws -> ServerSentEvent? {
            while ready.isEmpty {
                guard let chunk = try await chunks.next() else { return nil }
                ready = try parser.feed(chunk)[...]
            }
            return ready.popFirst()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), parser: ServerSentEventParser(maxEventSize: maxEventSize))
    }
}
