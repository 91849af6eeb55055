import Benchmark
import Foundation
import NIOCore
import RippleEngine
import RippleReactivity
import RippleReplication
import RippleStorage
import RippleValues
import Synchronization

// The per-write work every mutation, replica and live query pays: index keys, the document
// encoding, matching a commit's writes against the live queries' read sets, and the
// replication link's frame codec. Run with `scripts/bench micro`; compare runs with
// `swift package benchmark baseline update|check` (see ordo-one/benchmark's documentation).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        maxDuration: .seconds(2),
        maxIterations: 1_000_000
    )

    let message = Fixtures.message(channel: 17, seq: 123_456)

    Benchmark("IndexKey.forDocument, 2 fields") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(IndexKey.forDocument(message, fields: ["channel", "seq"]))
        }
    }

    Benchmark("ValueCodec.encode, chat message") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(ValueCodec.encode(.object(message)))
        }
    }

    let encoded = ValueCodec.encode(.object(message))
    Benchmark("ValueCodec.decode, chat message") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try ValueCodec.decode(encoded))
        }
    }

    // A commits frame of about 4 KB: compressed (LZ4) on the way out, checked and decompressed on the way in.
    let payload = ByteBuffer(bytes: (0..<32).flatMap { ValueCodec.encode(.object(Fixtures.message(channel: 17, seq: Double($0)))) })
    Benchmark("LogFrame encode + decode, \(payload.readableBytes) B commits frame") { benchmark in
        let allocator = ByteBufferAllocator()
        for _ in benchmark.scaledIterations {
            var wire = allocator.buffer(capacity: payload.readableBytes + 16)
            try LogFrameEncoder.encode(LogFrame(kind: .commits, payload: payload), into: &wire)
            blackHole(try LogFrameDecoder.decodeFrame(from: &wire, limits: .open(maxFrameSize: LogFrame.defaultMaxFrameSize), allocator: allocator))
        }
    }

    // 10,000 live queries, each on one of 1,000 channels, against one insert: the read sets and
    // the write set are the engine's own, from real queries and a real commit.
    for subscriptions in [100, 10_000] {
        // A thousand look-ups per sample: one right after building the fixture measures cold caches.
        Benchmark(
            "SubscriptionIndex.invalidated, \(subscriptions) live queries, one insert",
            configuration: .init(scalingFactor: .kilo)
        ) { benchmark in
            let fixture = try await Fixtures.readSetMatching(subscriptions: subscriptions)
            // The insert into channel 17 reaches the live queries of channel 17 only.
            let hits = fixture.index.invalidated(by: fixture.writes).count
            guard hits == (subscriptions + 982) / 1_000 else { throw FixtureError("the insert invalidated \(hits) of \(subscriptions) live queries") }
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(fixture.index.invalidated(by: fixture.writes))
            }
        }
    }
}

enum Fixtures {
    static func message(channel: Double, seq: Double) -> [String: Value] {
        [
            "channel": .float64(channel), "seq": .float64(seq), "author": .string("user_0123456789"),
            "body": .string("a chat message of about sixty bytes, as the chat example sends"),
        ]
    }

    static let app: App = {
        var functions = FunctionRegistry()
        functions.mutation("messages:send", args: ["channel": v.number(), "seq": v.number(), "author": v.string(), "body": v.string()]) { ctx, args in
            try ctx.db.insert("messages", args.fields)
        }
        functions.query("messages:recent", args: ["channel": v.number()]) { ctx, args in
            let channel = try args.double("channel")
            return Value.array(try ctx.db.query("messages").withIndex("by_channel", { $0.eq("channel", channel) }).order(.desc).take(10).map { .object($0.fields) })
        }
        let schema = Schema([
            TableDefinition("messages", ["channel": v.number(), "seq": v.number(), "author": v.string(), "body": v.string()])
                .index("by_channel", ["channel", "seq"])
        ])
        return App(schema: schema, functions: functions)
    }()

    /// Live queries' read sets (`messages:recent` of channel k % 1,000) in a `SubscriptionIndex`,
    /// and the write set of one message inserted into channel 17, from an engine in a temporary directory.
    static func readSetMatching(subscriptions: Int) async throws -> (index: SubscriptionIndex<Int>, writes: WriteSet) {
        let dir = NSTemporaryDirectory() + "ripple-micro-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let engine = try Engine.open(path: dir + "/db.sqlite3", app: app)
        defer { engine.close() }
        var index = SubscriptionIndex<Int>()
        for subscriber in 0..<subscriptions {
            let result = try await engine.query("messages:recent", ["channel": .float64(Double(subscriber % 1_000))])
            index.insert(subscriber, readSet: result.readSet)
        }
        let captured = CapturedWrites()
        let subscription = engine.commitFeed.subscribe { group in captured.keep(group.mutations.map(\.writes)) }
        defer { subscription.cancel() }
        _ = try await engine.mutation("messages:send", message(channel: 17, seq: 1))
        // The feed delivers on the committer's thread, possibly just after the mutation returned.
        for _ in 0..<1_000 {
            if let writes = captured.first { return (index, writes) }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw FixtureError("the insert's write set was not seen on the commit feed in 10 s")
    }
}

/// The write sets the commit feed delivered (on the committer's thread).
final class CapturedWrites: Sendable {
    private let writes = Mutex<[WriteSet]>([])
    func keep(_ more: [WriteSet]) { writes.withLock { $0 += more } }
    var first: WriteSet? { writes.withLock { $0.first } }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
