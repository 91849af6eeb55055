import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// Issue 11 #4: log shipping shared the four readers with queries and update rounds, so a
/// client holding them (say, ~100k queries on one socket) stalled replication. The commit log is
/// now read on a connection of its own.
@Suite(.timeLimit(.minutes(1))) struct ReplicationReaderTests {
    @Test func commitLogReadsDoNotWaitForBusyQueryReaders() async throws {
        let dir = TemporaryDirectory()
        let started = AsyncStream.makeStream(of: Void.self)
        let release = DispatchSemaphore(value: 0)
        var functions = itemsFunctions()
        functions.query("items:hold") { _, _ in
            started.continuation.yield()
            release.wait()
            return "held"
        }
        var options = EngineOptions()
        options.readerCount = 2
        let engine = try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions), options: options)
        defer { engine.close() }
        _ = try await engine.mutation("items:insert", ["group": .string("a"), "n": .float64(1)])
        let logged = try await engine.commits(after: 0, limit: 10)

        // Both query readers blocked.
        let holders = (0..<2).map { _ in Task { try await engine.query("items:hold") } }
        var iterator = started.stream.makeAsyncIterator()
        for _ in 0..<2 { await iterator.next() }

        let commits = try await engine.commits(after: 0, limit: 10)
        #expect(commits == logged)
        #expect(!commits.isEmpty)
        #expect(try await engine.logPrunedThrough() == 0)

        for _ in 0..<2 { release.signal() }
        for holder in holders { _ = try await boundedValue(of: holder, "task `holder` ends") }
    }
}
