import Hummingbird
import RippleEngine
import RippleFetch
import Testing

/// `ctx.fetch`'s client against a real loopback server: streamed bodies, the body cap, redirects,
/// timeouts and cancellation.
@Suite(.serialized) struct HTTPClientFetcherTests {
    /// A server on a free port with the routes the tests need; stopped by `body`'s end.
    static func withServer(_ body: (String) async throws -> Void) async throws {
        let router = Router()
        router.get("/chunks") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                for index in 0..<5 {
                    try await writer.write(ByteBuffer(string: "chunk\(index);"))
                    try await Task.sleep(for: .milliseconds(50))
                }
                try await writer.finish(nil)
            })
        }
        router.get("/big") { _, _ in ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024) }
        router.get("/redirect") { _, _ in Response(status: .found, headers: [.location: "/chunks"]) }
        router.get("/loop") { _, _ in Response(status: .found, headers: [.location: "/loop"]) }
        router.get("/slow") { _, _ in
            try await Task.sleep(for: .seconds(5))
            return "late"
        }
        router.post("/echo") { request, _ in
            Response(status: .created, headers: [.contentType: request.headers[.contentType] ?? ""], body: ResponseBody(asyncSequence: request.body))
        }
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portSink.yield($0.localAddress?.port ?? 0) })
        let server = Task { try await application.runService(gracefulShutdownSignals: []) }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body("http://127.0.0.1:\(port)")
    }

    let fetcher = HTTPClientFetcher()

    @Test func bodiesStreamInChunksAndRedirectsAreFollowed() async throws {
        try await Self.withServer { base in
            for path in ["/chunks", "/redirect"] {
                let response = try await fetcher.fetch(FetchRequest(url: base + path))
                #expect(response.status == 200)
                var chunks: [String] = []
                for try await chunk in response.body { chunks.append(String(decoding: chunk, as: UTF8.self)) }
                #expect(chunks.joined() == "chunk0;chunk1;chunk2;chunk3;chunk4;")
                #expect(chunks.count > 1, "the body arrived in one piece: \(chunks)")
            }
            let echoed = try await fetcher.fetch(
                FetchRequest(url: base + "/echo", method: "POST", headers: [("Content-Type", "text/plain")], body: Array("hello".utf8)))
            #expect(echoed.status == 201)
            #expect(echoed.header("content-type") == "text/plain")
            #expect(try await echoed.text() == "hello")
            // A network body streams once; reading it again is the action's error, not a trap.
            await #expect(throws: FetchError(.bodyAlreadyRead, "The response body from \(base.dropFirst(7)) was already read")) {
                _ = try await echoed.bytes()
            }
        }
        try await fetcher.shutdown()
    }

    @Test func failuresSayWhatHappenedWithoutTheURLsDetails() async throws {
        try await Self.withServer { base in
            let host = String(base.dropFirst("http://".count))
            let big = try await fetcher.fetch(FetchRequest(url: base + "/big", maxResponseBodySize: 1024))
            await #expect(throws: FetchError(.bodyTooLarge, "The response from \(host) is larger than 1024 bytes")) { _ = try await big.bytes() }
            await #expect(throws: FetchError(.redirects, "Too many redirects from \(host)")) {
                _ = try await fetcher.fetch(FetchRequest(url: base + "/loop"))
            }
            await #expect(throws: FetchError(.timeout, "The request to \(host) timed out")) {
                _ = try await fetcher.fetch(FetchRequest(url: base + "/slow?key=secret", timeout: .milliseconds(300)))
            }
            await #expect(throws: FetchError(.invalidURL, "fetch needs an absolute http:// or https:// URL")) {
                _ = try await fetcher.fetch(FetchRequest(url: "ftp://example.com/x"))
            }
        }
        try await fetcher.shutdown()
    }

    @Test func cancellingTheCallerCancelsTheRequest() async throws {
        try await Self.withServer { base in
            let started = ContinuousClock.now
            let call = Task { try await fetcher.fetch(FetchRequest(url: base + "/slow")) }
            try await Task.sleep(for: .milliseconds(200))
            call.cancel()
            await #expect(throws: CancellationError.self) { _ = try await call.value }
            #expect(ContinuousClock.now - started < .seconds(3))
        }
        try await fetcher.shutdown()
    }
}
