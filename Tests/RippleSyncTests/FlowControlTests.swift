import ChatExample
import Foundation
import Logging
import RippleEngine
import RippleProtocol
@testable import RippleSync
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// A socket that stops taking Transitions gets at most `maxUnwrittenTransitions` of them
/// queued; once it takes them, one more Transition catches it up on everything since.
@Suite struct FlowControlTests {
    @Test(.timeLimit(.minutes(1))) func slowSocketGetsBoundedTransitionsThatCatchUp() async throws {
        let directory = NSTemporaryDirectory() + "ripple-flow-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try Engine.open(path: directory + "/ripple.sqlite3", app: ChatApp.appWithDiagnostics)
        defer { engine.close() }
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let hub = SubscriptionHub(engine: engine, startTimestamp: try await engine.latestTimestamp(), logger: logger)
        let (commits, feed) = AsyncStream<CommitGroup>.makeStream()
        engine.commitFeed.subscribe { feed.yield($0) }
        let ingest = Task { for await group in commits { await hub.ingest(group) } }
        defer { ingest.cancel() }

        let received = Mutex<[Transition]>([])
        let id = await hub.openSession { message in
            if case .transition(let transition) = message { received.withLock { $0.append(transition) } }
        }
        func transitions() -> [Transition] { received.withLock { $0 } }
        func counter(_ transition: Transition) -> Double? {
            for case .queryUpdated(_, let value, _, _) in transition.modifications { return value["counter"]?.doubleValue }
            return nil
        }

        await hub.modifyQuerySet(
            id, newVersion: 1,
            modifications: [.add(queryId: 0, udfPath: "diagnostics:runStats", args: ["prefix": "flow"], journal: nil, componentPath: nil)])
        try await eventually("the first result", timeout: .seconds(20)) { transitions().count == 1 }
        // The socket writes nothing from here on, while the query's result changes 30 times.
        for i in 0..<30 {
            _ = try await engine.mutation("diagnostics:recordRun", ["tag": .string("flow-\(i)"), "counter": "flow"], caller: .server)
        }
        try await eventually("a second Transition", timeout: .seconds(20)) { transitions().count == 2 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(transitions().count == SubscriptionHub.maxUnwrittenTransitions, "more Transitions queued for a socket that writes nothing")

        // The socket takes both: one more Transition, continuing the chain, with the final result.
        await hub.transitionWritten(id)
        await hub.transitionWritten(id)
        try await eventually("the catch-up Transition", timeout: .seconds(20)) { transitions().last.flatMap(counter) == 30 }
        let all = transitions()
        #expect(all.count == 3)
        for (previous, next) in zip(all, all.dropFirst()) { #expect(next.startVersion == previous.endVersion) }
        await hub.closeSession(id)
    }
}
