import Foundation
import Histogram
import Logging
import PostgresNIO
import RippleBenchApp
import RippleClient
import RippleValues
import Synchronization

/// Part 3: the chat workload's reactivity. `subscribers` clients each follow one of `channels`
/// channels (its newest messages); a writer posts `rate` messages/s to the channels in turn, and
/// every subscriber of a message's channel times the message from the moment its insert was sent
/// to the moment the subscriber holds a result containing it.
/// - Ripple: subscribers on a replica (`messages:recent` over the sync protocol, one RippleClient
///   and WebSocket each), the writer's inserts through the writer's HTTP API.
/// - PostgreSQL, as a user builds it by hand: an `AFTER INSERT` trigger `NOTIFY`s the row's
///   channel, and each subscriber is a connection that `LISTEN`s on its channel and re-runs the
///   channel query on every notification.
/// Both commit durably (fsync) before the update can reach anyone, so the figure includes the commit.
struct ReactivityPart {
    let subscribers: Int
    let channels: Int
    let rate: Double
    let seconds: Double

    /// Messages sent before this count as warm-up: delivered, not timed.
    var warmupMessages: Int { Int(rate) }
    var totalMessages: Int { warmupMessages + Int(rate * seconds) }

    func run(writer: RipplePeer, replica: RipplePeer, rippleCPU: ServerCPU, postgres: PostgresPeer, postgresCPU: ServerCPU) async throws {
        print("reactivity: \(subscribers) subscribers on \(channels) channels, \(Int(rate)) messages/s for \(Int(seconds)) s (after \(warmupMessages) warm-up messages)")
        let postgresResult = try await runPostgres(postgres, cpu: postgresCPU)
        report("postgres_notify", postgresResult)
        let rippleResult = try await runRipple(writer: writer, replica: replica, cpu: rippleCPU)
        report("ripple_replica", rippleResult)
        let p99 = rippleResult.percentileMilliseconds(99) / postgresResult.percentileMilliseconds(99)
        BenchReport.bench("reactivity_p99_vs_postgres", p99, "x", target: 0.5, atLeast: false)
        BenchReport.metric("reactivity_cpu_vs_postgres", rippleResult.cpuSeconds / postgresResult.cpuSeconds, "x")
    }

    // MARK: - Ripple

    struct ChannelArgs: Codable, Sendable { var channel: Double }
    static let recent = QueryReference<ChannelArgs, [Double]>("messages:recent")

    func runRipple(writer: RipplePeer, replica: RipplePeer, cpu: ServerCPU) async throws -> ReactivityResult {
        // The replica is following the writer once a message sent before the timed ones (on a
        // channel nobody follows) can be read back from it.
        try await writer.mutation("messages:send", ["channel": -1, "seq": -1, "body": "warm-up"])
        try await waitUntil("\(replica.baseURL) has the warm-up message") {
            ((try? await replica.query("messages:recent", ["channel": -1])) as? [Any])?.count == 1
        }
        let tracker = UpdateTracker(messages: totalMessages, warmup: warmupMessages)
        var clients: [RippleClient] = []
        for _ in 0..<subscribers { clients.append(try RippleClient(url: replica.baseURL)) }
        let channels = self.channels
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    var newest = -1.0
                    var first = true
                    for try await seqs in client.subscribe(Self.recent, ChannelArgs(channel: Double(index % channels))) {
                        if first { tracker.subscribed() }
                        first = false
                        tracker.delivered(seqs.filter { $0 > newest }.map { Int($0) })
                        newest = max(newest, seqs.first ?? newest)
                    }
                }
            }
            let result = try await drive(tracker, cpu: cpu) { channel, seq in
                try await writer.mutation("messages:send", ["channel": channel, "seq": seq, "body": Self.body(seq)])
            }
            for client in clients { await client.close() }
            group.cancelAll()
            return result
        }
    }

    // MARK: - PostgreSQL

    static let postgresSchema = [
        "DROP TABLE IF EXISTS messages",
        "CREATE TABLE messages(id bigserial PRIMARY KEY, channel integer NOT NULL, seq bigint NOT NULL, body text NOT NULL)",
        "CREATE INDEX messages_by_channel ON messages(channel, seq)",
        """
        CREATE OR REPLACE FUNCTION notify_message() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('channel_' || NEW.channel, NEW.seq::text);
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """,
        "CREATE TRIGGER messages_notify AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION notify_message()",
    ]

    func runPostgres(_ postgres: PostgresPeer, cpu: ServerCPU) async throws -> ReactivityResult {
        try await postgres.setUp(Self.postgresSchema)
        let tracker = UpdateTracker(messages: totalMessages, warmup: warmupMessages)
        let listeners = try await postgres.connections(subscribers)
        let writerConnection = try await postgres.connect(subscribers)
        let logger = postgres.logger
        let channels = self.channels
        let result = try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, connection) in listeners.enumerated() {
                let channel = index % channels
                group.addTask {
                    try await connection.listen(on: "channel_\(channel)") { notifications in
                        // The initial read, as a subscription's first result.
                        var newest = try await Self.recentSeqs(connection, channel: channel, logger: logger).first ?? -1
                        tracker.subscribed()
                        for try await _ in notifications {
                            let seqs = try await Self.recentSeqs(connection, channel: channel, logger: logger)
                            tracker.delivered(seqs.filter { $0 > newest })
                            newest = max(newest, seqs.first ?? newest)
                        }
                    }
                }
            }
            let result = try await drive(tracker, cpu: cpu) { channel, seq in
                let rows = try await writerConnection.execute(InsertMessage(channel: Int32(channel), seq: Int64(seq), body: Self.body(seq)), logger: logger)
                for try await _ in rows {}
            }
            // Closing a connection ends its notification sequence, and with it the listener's task.
            for connection in listeners { try? await connection.close() }
            return result
        }
        try await writerConnection.close()
        return result
    }

    static func recentSeqs(_ connection: PostgresConnection, channel: Int, logger: Logger) async throws -> [Int] {
        var seqs: [Int] = []
        for try await seq in try await connection.execute(RecentMessages(channel: Int32(channel)), logger: logger) { seqs.append(Int(seq)) }
        return seqs
    }

    // MARK: - The run both share

    static func body(_ seq: Int) -> String { "message \(seq) of the reactivity benchmark" }

    /// Waits for every subscriber's first result, then sends the messages on schedule (message
    /// `seq` to channel `seq % channels`, each in its own task so a slow commit does not delay
    /// the next), waits until every subscriber has every message of its channel (at most 30 s
    /// after the last send) and returns the latencies and the servers' CPU time meanwhile.
    private func drive(_ tracker: UpdateTracker, cpu: ServerCPU, send: @escaping @Sendable (Int, Int) async throws -> Void) async throws -> ReactivityResult {
        let clock = ContinuousClock()
        let subscribeDeadline = clock.now + .seconds(120)
        while tracker.subscriberCount < subscribers {
            guard clock.now < subscribeDeadline else { throw PeerError("only \(tracker.subscriberCount) of \(subscribers) subscribers got a first result in 120 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        let expected = (0..<totalMessages).reduce(0) { total, seq in total + subscribersOf(seq % channels) }
        let cpuBefore = cpu.seconds()
        let start = clock.now
        let interval = Duration.nanoseconds(Int64(1e9 / rate))
        let failures = FirstError()
        await withTaskGroup(of: Void.self) { group in
            for seq in 0..<totalMessages {
                try? await clock.sleep(until: start + interval * seq)
                tracker.sent(seq)
                group.addTask {
                    do {
                        try await send(seq % channels, seq)
                    } catch {
                        failures.keep(error)
                    }
                }
            }
        }
        let deliverDeadline = clock.now + .seconds(30)
        while tracker.deliveredCount < expected && clock.now < deliverDeadline { try await Task.sleep(for: .milliseconds(10)) }
        let cpuSeconds = cpu.seconds() - cpuBefore
        if let error = failures.message { print("  first error: \(error)") }
        return ReactivityResult(
            latency: tracker.latency, delivered: tracker.deliveredCount, expected: expected,
            failedSends: failures.count, cpuSeconds: cpuSeconds, messages: totalMessages)
    }

    /// Subscribers of `channel`: subscriber k follows channel k % channels.
    private func subscribersOf(_ channel: Int) -> Int { subscribers / channels + (channel < subscribers % channels ? 1 : 0) }

    private func report(_ prefix: String, _ result: ReactivityResult) {
        print(String(format: "  %-18@ p50 %7.2f ms  p99 %7.2f ms  p99.9 %7.2f ms  max %7.2f ms  %d of %d updates, %d sends failed, server CPU %.2f s (%.1f us per update)",
                     prefix as NSString, result.percentileMilliseconds(50), result.percentileMilliseconds(99), result.percentileMilliseconds(99.9),
                     Double(result.latency.max) / 1000, result.delivered, result.expected, result.failedSends, result.cpuSeconds,
                     result.cpuSeconds / Double(max(1, result.delivered)) * 1e6))
        BenchReport.metric("\(prefix)_update_p50", result.percentileMilliseconds(50), "ms")
        BenchReport.metric("\(prefix)_update_p99", result.percentileMilliseconds(99), "ms")
        BenchReport.metric("\(prefix)_update_p999", result.percentileMilliseconds(99.9), "ms")
        BenchReport.metric("\(prefix)_updates_missing", Double(result.expected - result.delivered), "updates")
        BenchReport.metric("\(prefix)_cpu", result.cpuSeconds, "s")
    }
}

struct ReactivityResult {
    let latency: Histogram<UInt64>
    let delivered: Int
    let expected: Int
    let failedSends: Int
    let cpuSeconds: Double
    let messages: Int

    func percentileMilliseconds(_ percentile: Double) -> Double { Double(latency.valueAtPercentile(percentile)) / 1000 }
}

/// When each message was sent, and each delivery's latency (µs) from that moment; shared by the
/// writer and every subscriber task.
final class UpdateTracker: Sendable {
    private struct State {
        var sentAt: [ContinuousClock.Instant?]
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var delivered = 0
        var subscribers = 0
    }
    private let state: Mutex<State>
    private let warmup: Int

    init(messages: Int, warmup: Int) {
        state = Mutex(State(sentAt: Array(repeating: nil, count: messages)))
        self.warmup = warmup
    }

    func sent(_ seq: Int) {
        let now = ContinuousClock.now
        state.withLock { $0.sentAt[seq] = now }
    }

    func subscribed() { state.withLock { $0.subscribers += 1 } }

    /// A subscriber now holds messages `seqs`, which it did not hold before.
    func delivered(_ seqs: [Int]) {
        guard !seqs.isEmpty else { return }
        let now = ContinuousClock.now
        state.withLock { state in
            for seq in seqs where seq >= 0 && seq < state.sentAt.count {
                state.delivered += 1
                guard seq >= warmup, let sent = state.sentAt[seq] else { continue }
                _ = state.latency.record(UInt64(max(0, (now - sent).microseconds)))
            }
        }
    }

    var subscriberCount: Int { state.withLock { $0.subscribers } }
    var deliveredCount: Int { state.withLock { $0.delivered } }
    var latency: Histogram<UInt64> { state.withLock { $0.latency } }
}

/// The writer's insert of the PostgreSQL side; the trigger notifies the channel's listeners.
struct InsertMessage: PostgresPreparedStatement {
    static let sql = "INSERT INTO messages(channel, seq, body) VALUES ($1, $2, $3)"
    typealias Row = ()
    var channel: Int32
    var seq: Int64
    var body: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(channel)
        bindings.append(seq)
        bindings.append(body)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// A listener's channel query: the channel's newest messages, newest first, as `messages:recent`.
struct RecentMessages: PostgresPreparedStatement {
    static let sql = "SELECT seq FROM messages WHERE channel = $1 ORDER BY seq DESC LIMIT \(BenchApp.recentMessages)"
    typealias Row = Int64
    var channel: Int32

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(channel)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Int64.self) }
}
