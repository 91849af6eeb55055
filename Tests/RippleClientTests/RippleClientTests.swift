import Foundation
import RippleClient
import RippleNodeTestSupport
import RippleValues
import Testing

/// The client against a real node, through a relay the tests can cut or re-point.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RippleClientTests {
    /// A node, a relay in front of it, and a client of the relay.
    struct Setup {
        var node: TestNode
        let proxy: TestProxy
        let client: RippleClient

        static func start(_ configure: (inout RippleClient.Configuration) -> Void = { _ in }) async throws -> Setup {
            let node = try await TestNode.start()
            let proxy = try await TestProxy.start(upstreamPort: node.port)
            var configuration = RippleClient.Configuration()
            configuration.backoff = ReconnectBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
            configure(&configuration)
            return Setup(node: node, proxy: proxy, client: try RippleClient(url: proxy.url, configuration: configuration))
        }

        func stop() async {
            await client.close()
            await proxy.stop()
            await node.stop()
        }
    }

    @Test func liveSubscriptionShowsAMutation() async throws {
        let setup = try await Setup.start()
        var results = setup.client.subscribe(Notes.list, NoArguments()).makeAsyncIterator()
        #expect(try await results.next() == [])

        let id = try await setup.client.mutation(Notes.add, NewNote(body: "hello"))

        #expect(try await results.next() == [Note(_id: id, body: "hello")])
        #expect(try await setup.client.query(Notes.list, NoArguments()) == [Note(_id: id, body: "hello")])
        #expect(try await setup.client.action(Notes.shout, NewNote(body: "hello")) == "HELLO")
        await setup.stop()
    }

    @Test func reconnectsAfterARestartWithoutGoingBackInTime() async throws {
        var setup = try await Setup.start()
        var results = setup.client.subscribe(Notes.list, NoArguments()).makeAsyncIterator()
        #expect(try await results.next() == [])
        let before = try await setup.client.mutation(Notes.add, NewNote(body: "before"))
        #expect(try await results.next() == [Note(_id: before, body: "before")])

        // Nothing reaches the old node while it stops (port 1 refuses), then the new one.
        setup.proxy.setUpstream(port: 1)
        setup.proxy.cutAll()
        setup.node = try await setup.node.restart()
        setup.proxy.setUpstream(port: setup.node.port)
        // Sent while the client may still be reconnecting: it goes out on the new socket.
        let after = try await setup.client.mutation(Notes.add, NewNote(body: "after"))

        // Every result shown after the restart contains the note shown before it.
        var shown = try #require(try await results.next())
        while shown.count < 2 {
            #expect(shown == [Note(_id: before, body: "before")])
            shown = try #require(try await results.next())
        }
        #expect(shown == [Note(_id: before, body: "before"), Note(_id: after, body: "after")])
        await setup.stop()
    }

    @Test func optimisticUpdateIsRolledBackWhenTheMutationFails() async throws {
        let setup = try await Setup.start()
        var results = setup.client.subscribe(Notes.list, NoArguments()).makeAsyncIterator()
        #expect(try await results.next() == [])

        let optimistic = Note(_id: "pending", body: "rejected")
        await #expect(throws: RippleClientError.functionFailed(
            path: "notes:refuse", message: #"Uncaught ConvexError: {"refused":"rejected"}"#, data: .object(["refused": .string("rejected")]))
        ) {
            _ = try await setup.client.mutation(Notes.refuse, NewNote(body: "rejected")) { store in
                store.set(Notes.list, NoArguments(), (store.get(Notes.list, NoArguments()) ?? []) + [optimistic])
            }
        }

        #expect(try await results.next() == [optimistic])
        #expect(try await results.next() == [])
        await setup.stop()
    }

    @Test func optimisticUpdateIsReplacedByTheServersResult() async throws {
        let setup = try await Setup.start()
        var results = setup.client.subscribe(Notes.list, NoArguments()).makeAsyncIterator()
        #expect(try await results.next() == [])

        let optimistic = Note(_id: "pending", body: "kept")
        let id = try await setup.client.mutation(Notes.add, NewNote(body: "kept")) { store in
            store.set(Notes.list, NoArguments(), (store.get(Notes.list, NoArguments()) ?? []) + [optimistic])
        }

        #expect(try await results.next() == [optimistic])
        // The server's note may show up beside the optimistic one for a moment (its Transition
        // can overtake the MutationResponse); by the time the call returned it replaced it.
        var shown = try #require(try await results.next())
        while shown.contains(optimistic) { shown = try #require(try await results.next()) }
        #expect(shown == [Note(_id: id, body: "kept")])
        await setup.stop()
    }

    @Test func mutationResentAfterADroppedConnectionIsAppliedOnce() async throws {
        let setup = try await Setup.start()
        // The node commits the mutation, but the connection drops before its answer arrives.
        setup.proxy.cutWhenServerSends("MutationResponse")

        let id = try await setup.client.mutation(Notes.add, NewNote(body: "once"))

        #expect(setup.proxy.cuts == 1)
        #expect(try await setup.client.query(Notes.list, NoArguments()) == [Note(_id: id, body: "once")])
        await setup.stop()
    }
}
