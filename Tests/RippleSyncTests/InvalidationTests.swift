import ChatExample
import Foundation
import RippleEngine
import RippleNodeTestSupport
import RippleProtocol
@testable import RippleSync
import RippleTestSupport
import RippleValues
import Synchronization
import Testing

/// Collects what the hub sends each session.
final class Outboxes: Sendable {
    let messages = Mutex<[SessionID: [ServerMessage]]>([:])

    func sender(_ id: @escaping @Sendable () -> SessionID) -> @Sendable (ServerMessage) -> Void {
        { [self] message in messages.withLock { $0[id(), default: []].append(message) } }
    }

    func transitions(_ id: SessionID) -> [Transition] {
        messages.withLock { ($0[id] ?? []).compactMap { if case .transition(let t) = $0 { t } else { nil } } }
    }
}

/// The id of a session, filled in once the hub has assigned it.
final class SessionBox: Sendable {
    let id = Mutex<SessionID>(0)
}

@Suite struct InvalidationTests {
    @Test(.timeLimit(.minutes(2))) func oneWriteToOneChannelRerunsExactlyOneOfAThousandQueries() async throws {
        let node = try await TestNode.start()
        let alice = Identity.user(UserIdentity(subject: "alice", issuer: "https://issuer.test", claims: ["name": "Alice", "email": "a@x.test"]))
        _ = try await node.engine.mutation("users:upsertUser", identity: alice)
        var channels: [String] = []
        for i in 0..<1_000 {
            channels.append(try await node.engine.mutation("channels:create", ["name": .string("c\(i)")], identity: alice).value.stringValue!)
        }
        let hub = node.server.hub
        let outboxes = Outboxes()
        var sessions: [SessionID] = []
        for channel in channels {
            let box = SessionBox()
            let id = await hub.openSession(send: outboxes.sender { box.id.withLock { $0 } })
            box.id.withLock { $0 = id }
            await hub.modifyQuerySet(
                id, newVersion: 1,
                modifications: [.add(queryId: 0, udfPath: "messages:getMessages", args: ["channelId": .string(channel)], journal: nil, componentPath: nil)])
            sessions.append(id)
        }
        try await eventually("every session has its first Transition") { sessions.allSatisfy { outboxes.transitions($0).count == 1 } }
        let before = await hub.rerunCount
        #expect(before == 1_000)

        _ = try await node.engine.mutation("messages:sendMessage", ["channelId": .string(channels[500]), "content": "hello"], identity: alice)
        try await eventually("session 500 has its second Transition") { outboxes.transitions(sessions[500]).count == 2 }
        #expect(await hub.rerunCount == before + 1)
        let update = outboxes.transitions(sessions[500])[1]
        guard case .queryUpdated(_, let value, _, _) = update.modifications.first else {
            Issue.record("expected a QueryUpdated, got \(update.modifications)")
            return
        }
        #expect(value.arrayValue?.first?["content"] == "hello")
        #expect(update.startVersion == outboxes.transitions(sessions[500])[0].endVersion)
        let others = sessions.enumerated().filter { $0.offset != 500 }.map(\.element)
        #expect(others.allSatisfy { outboxes.transitions($0).count == 1 })
        await node.stop()
    }

    @Test func identicalQueriesAcrossSessionsRunOnce() async throws {
        let node = try await TestNode.start()
        let hub = node.server.hub
        let outboxes = Outboxes()
        var sessions: [SessionID] = []
        for _ in 0..<50 {
            let box = SessionBox()
            let id = await hub.openSession(send: outboxes.sender { box.id.withLock { $0 } })
            box.id.withLock { $0 = id }
            await hub.modifyQuerySet(id, newVersion: 1, modifications: [.add(queryId: 7, udfPath: "channels:list", args: [:], journal: nil, componentPath: nil)])
            sessions.append(id)
        }
        try await eventually("every session has its first Transition") { sessions.allSatisfy { outboxes.transitions($0).count == 1 } }
        #expect(await hub.rerunCount == 1)
        #expect(await hub.liveQueryCount == 1)
        await node.stop()
    }
}
