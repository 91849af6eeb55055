import RippleEngine
import Testing

/// The SSE parser on bytes split and joined every way the network may deliver them.
struct ServerSentEventParserTests {
    let stream = Array(
        (": comment\n"
            + "event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
            + "event: content_block_delta\r\ndata: {\"a\":1}\r\n\r\n"
            + "data: line one\rdata: line two\r\r"
            + "id: 7\nevent: message_stop\ndata:{}\n\n").utf8)

    let expected = [
        ServerSentEvent(type: "message_start", data: "{\"type\":\"message_start\"}"),
        ServerSentEvent(type: "content_block_delta", data: "{\"a\":1}"),
        ServerSentEvent(type: "message", data: "line one\nline two"),
        ServerSentEvent(type: "message_stop", data: "{}", id: "7"),
    ]

    @Test func wholeStreamInOneChunk() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(stream) == expected)
    }

    @Test func everySplitIntoTwoChunksGivesTheSameEvents() throws {
        for cut in 0...stream.count {
            var parser = ServerSentEventParser()
            let events = try parser.feed(stream[..<cut]) + parser.feed(stream[cut...])
            #expect(events == expected, "cut at \(cut)")
        }
    }

    @Test func byteByByte() throws {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for byte in stream { events += try parser.feed([byte]) }
        #expect(events == expected)
    }

    @Test func anEventIsOnlyDispatchedAtItsBlankLine() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("event: ping\ndata: {}\n".utf8)) == [])
        #expect(try parser.feed(Array("\n".utf8)) == [ServerSentEvent(type: "ping", data: "{}")])
    }

    @Test func aByteOrderMarkAndEventsWithoutDataAreIgnored() throws {
        var parser = ServerSentEventParser()
        let events = try parser.feed([0xEF, 0xBB, 0xBF] + Array("event: nothing\n\ndata: x\n\n".utf8))
        #expect(events == [ServerSentEvent(type: "message", data: "x")])
    }

    @Test func anEventLargerThanTheLimitFails() throws {
        var parser = ServerSentEventParser(maxEventSize: 16)
        #expect(throws: ServerSentEventParser.EventTooLarge.self) {
            _ = try parser.feed(Array("data: 0123456789abcdefg\n\n".utf8))
        }
    }

    @Test func aFetchBodyReadsAsEvents() async throws {
        let body = FetchBody(chunks: [Array("event: a\nda".utf8), Array("ta: 1\n\nevent: b\ndata: 2\n".utf8), Array("\n".utf8)])
        let response = FetchResponse(status: 200, headers: [], body: body)
        var events: [ServerSentEvent] = []
        for try await event in response.serverSentEvents() { events.append(event) }
        #expect(events == [ServerSentEvent(type: "a", data: "1"), ServerSentEvent(type: "b", data: "2")])
    }
}
