import ChatExample
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import RippleAuth
import RippleEngine
import RippleNodeTestSupport
import RippleProtocol
import RippleTestSupport
@testable import RippleSync
import RippleValues
import Synchronization
import Testing

/// Each per-client limit is refused with an error that names it, and the node keeps serving
/// everyone else.
// A hang here must fail the suite, not stall CI until its own timeout.
@Suite(.serialized, .timeLimit(.minutes(1))) struct ClientLimitsTests {
    static let connect = healthySessionFrames()[0]

    static func addQueries(_ ids: Range<Int>) -> WebSocketOutboundWriter.OutboundFrame {
        let adds = ids.map { #"{"type":"Add","queryId":\#($0),"udfPath":"diagnostics:echo","args":[{"value":\#($0)}]}"# }
        return .text(#"{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[\#(adds.joined(separator: ","))]}"#)
    }

    @Test func queriesPerSocketAreCapped() async throws {
        let node = try await TestNode.start { $0.limits.maxQueriesPerSocket = 3 }
        let withinLimit = try await node.exchange([Self.connect, Self.addQueries(0..<3)], until: hasQueryUpdate)
        #expect(hasQueryUpdate(withinLimit.messages))
        let result = try await node.exchange([Self.connect, Self.addQueries(0..<4)])
        #expect(result.serverClosed)
        #expect(
            fatalErrors(result.messages) == [
                "TooManyQueries: this socket would have more than 3 subscribed queries (RIPPLE_MAX_QUERIES_PER_SOCKET)"
            ])
        try await expectNodeStillServes(node)
        await node.stop()
    }

    /// Many new queries are re-run in bounded read transactions, and the socket still gets one
    /// consistent Transition with every result.
    @Test func updateRoundsAreSplit() async throws {
        let node = try await TestNode.start { $0.limits.maxQueriesPerRound = 2 }
        let result = try await node.exchange([Self.connect, Self.addQueries(0..<5)], until: hasQueryUpdate)
        let received = transitions(result.messages)
        #expect(received.count == 1)
        #expect(received.first?.modifications.count == 5)
        #expect(await node.server.hub.largestRound == 2)
        #expect(await node.server.hub.rerunCount == 5)
        await node.stop()
    }

    // The refused socket is read with `RawWebSocket`: see there why not Hummingbird's client.
    @Test func socketsPerAddressAreCappedAndReleasedOnClose() async throws {
        let node = try await TestNode.start {
            $0.limits.maxSocketsPerAddress = 2
            $0.host = privateLoopbackHost()
        }
        let first = try await HeldSocket.open(node)
        let second = try await HeldSocket.open(node)
        let refused = try await RawWebSocket.listen(host: node.host, port: node.port)
        #expect(refused.statusLine == "HTTP/1.1 101 Switching Protocols")
        #expect(fatalErrors(refused.texts) == ["TooManyConnections: more than 2 sockets from one address (RIPPLE_MAX_SOCKETS_PER_ADDRESS)"])
        #expect(refused.closeCode == 1008)
        #expect(refused.serverClosed)
        #expect(first.answered && second.answered)
        try await first.close()
        try await eventually("the first socket's slot is given back") { await node.server.admission.openCount == 1 }
        try await expectNodeStillServes(node)
        try await second.close()
        await node.stop()
    }

    @Test func socketsInTotalAreCapped() async throws {
        let node = try await TestNode.start {
            $0.limits.maxSockets = 1
            $0.host = privateLoopbackHost()
        }
        let held = try await HeldSocket.open(node)
        #expect(held.answered)
        let refused = try await RawWebSocket.listen(host: node.host, port: node.port)
        let openAfterRefusal = await node.server.admission.openCount
        #expect(
            fatalErrors(refused.texts) == ["TooManyConnections: this node already serves 1 sockets (RIPPLE_MAX_SOCKETS); try another node or later"],
            "\(refused), sockets open: \(openAfterRefusal)")
        #expect(refused.serverClosed)
        try await held.close()
        // The server gives the slot back once it has seen the close, after `close` returned
        // here: a fresh socket sooner would be refused again (seen under the full suite's load).
        try await eventually("the held socket's slot is given back") { await node.server.admission.openCount == 0 }
        try await expectNodeStillServes(node)
        await node.stop()
    }

    @Test func oversizeMessageClosesThatSocketAsTooBig() async throws {
        let node = try await TestNode.start { $0.limits.maxMessageBytes = 4096 }
        let big = String(repeating: "x", count: 8192)
        let result = try await node.exchange([
            Self.connect, .text(#"{"type":"Mutation","requestId":0,"udfPath":"diagnostics:echoMutation","args":[{"value":""# + big + #""}]}"#),
        ])
        #expect(result.serverClosed)
        #expect(result.closeCode == .messageTooLarge)
        try await expectNodeStillServes(node)
        await node.stop()
    }

    @Test func queryBatchIsCapped() async throws {
        let node = try await TestNode.start { $0.limits.maxQueryBatch = 2 }
        let query = #"{"path":"diagnostics:echo","args":{"value":1}}"#
        try await node.server.application().test(.router) { client in
            try await client.execute(
                uri: "/api/query_batch", method: .post, body: ByteBuffer(string: #"{"queries":[\#(query),\#(query),\#(query)]}"#)
            ) { response in
                #expect(response.status == .badRequest)
                #expect(
                    String(buffer: response.body)
                        == #"{"code":"TooManyQueries","message":"query_batch holds 3 queries; at most 2 are allowed (RIPPLE_MAX_QUERY_BATCH)"}"#)
            }
            try await client.execute(uri: "/api/query_batch", method: .post, body: ByteBuffer(string: #"{"queries":[\#(query),\#(query)]}"#)) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains(#""status":"success""#))
            }
        }
        await node.stop()
    }

    @Test func actionsInFlightAreCappedAndFinishedOnesForgotten() async throws {
        let gate = Gate()
        var functions = FunctionRegistry()
        functions.action("slow:wait") { _, _ in
            await gate.wait()
            return Value.string("done")
        }
        let directory = TemporaryDirectory()
        let engine = try Engine.open(path: directory.database, app: App(schema: Schema([]), functions: functions))
        defer { engine.close() }
        let hub = SubscriptionHub(engine: engine, startTimestamp: 0, logger: Logger(label: "test"))
        let sent = SentMessages()
        var limits = SyncLimits()
        limits.maxActionsInFlightPerSocket = 2
        let session = SyncSession(
            id: await hub.openSession { _ in }, hub: hub, engine: engine,
            authenticator: try Authenticator(config: AuthConfig(providers: [], adminKey: "key")),
            logger: Logger(label: "test"), limits: limits
        ) { sent.append($0) }
        try await session.handle(.connect(Connect(sessionId: "s", connectionCount: 0)))
        for requestId: UInt32 in 0..<3 {
            try await session.handle(.action(requestId: requestId, udfPath: "slow:wait", args: [:], componentPath: nil))
        }
        #expect(
            sent.messages == [
                .actionResponse(
                    .failure(
                        requestId: 2,
                        message: "TooManyActions: this socket already has 2 actions running (RIPPLE_MAX_ACTIONS_PER_SOCKET); wait for one to finish",
                        errorData: nil, logLines: []))
            ])
        #expect(await session.actionsInFlight == 2)
        await gate.open()
        await sent.waitFor(count: 3)
        #expect(await session.actionsInFlight == 0)
        // Answered actions no longer count: the socket may start new ones.
        try await session.handle(.action(requestId: 3, udfPath: "slow:wait", args: [:], componentPath: nil))
        await sent.waitFor(count: 4)
        #expect(sent.messages.last == .actionResponse(.success(requestId: 3, result: "done", logLines: [])))
        await session.close()
    }
}

/// A sync socket kept open (and answered) until `close()`.
final class HeldSocket: Sendable {
    let answered: Bool
    private let release: AsyncStream<Void>.Continuation
    private let task: Task<Void, any Error>

    private init(answered: Bool, release: AsyncStream<Void>.Continuation, task: Task<Void, any Error>) {
        self.answered = answered
        self.release = release
        self.task = task
    }

    /// Connects, subscribes to `diagnostics:echo` and returns once the query is answered.
    static func open(_ node: TestNode) async throws -> HeldSocket {
        let (released, release) = AsyncStream<Void>.makeStream()
        let (answers, answer) = AsyncStream<Bool>.makeStream()
        let url = "ws://\(node.host):\(node.port)/api/sync"
        let task = Task {
            // A socket that fails to open answers `false` rather than leaving `open` waiting.
            defer { answer.finish() }
            _ = try await WebSocketClient.connect(url: url, logger: Logger(label: "held")) { inbound, outbound, _ in
                for frame in healthySessionFrames() { try await outbound.write(frame) }
                // Keep reading while held, so the server's pings are answered and its close is seen.
                async let closer: Void = {
                    for await _ in released { break }
                    try? await outbound.close(.normalClosure, reason: nil)
                }()
                var messages: [String] = []
                var answered = false
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { messages.append(text) }
                    if !answered, hasQueryUpdate(messages) {
                        answered = true
                        answer.yield(true)
                    }
                }
                if !answered { answer.yield(false) }
                await closer
            }
        }
        var iterator = answers.makeAsyncIterator()
        let answered = await iterator.next() ?? false
        return HeldSocket(answered: answered, release: release, task: task)
    }

    func close() async throws {
        release.yield()
        try await boundedValue(of: task, "task `task` ends")
    }
}

/// Holds callers until opened.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters = []
    }
}

/// What a session sent, for tests that drive a `SyncSession` without a socket.
final class SentMessages: Sendable {
    private let state = Mutex<(messages: [ServerMessage], waiters: [(Int, CheckedContinuation<Void, Never>)])>(([], []))

    var messages: [ServerMessage] { state.withLock { $0.messages } }

    func append(_ message: ServerMessage) {
        let ready = state.withLock { state in
            state.messages.append(message)
            let ready = state.waiters.filter { $0.0 <= state.messages.count }
            state.waiters.removeAll { $0.0 <= state.messages.count }
            return ready
        }
        for (_, waiter) in ready { waiter.resume() }
    }

    /// Returns once at least `count` messages were sent.
    func waitFor(count: Int) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.messages.count >= count { return true }
                state.waiters.append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}
