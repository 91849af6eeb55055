import RippleProtocol
import RippleValues
import Testing

@testable import RippleClient

/// The protocol rules of `SyncState`, without sockets.
struct SyncStateTests {
    let list = QueryToken(udfPath: "notes:list", args: .object([:]))

    func transition(from start: StateVersion, to end: StateVersion, _ modifications: [StateModification] = []) -> ServerMessage {
        .transition(Transition(startVersion: start, endVersion: end, modifications: modifications))
    }

    /// The version after the first ModifyQuerySet, at `ts`.
    func at(_ ts: UInt64) -> StateVersion { StateVersion(querySet: 1, identity: 0, ts: ts) }

    func updated(_ value: Value) -> StateModification {
        .queryUpdated(queryId: 0, value: value, logLines: [], journal: nil)
    }

    /// A state subscribed to `list` on an open socket, showing `[]` at ts 10.
    func subscribed() -> SyncState {
        var state = SyncState()
        _ = state.subscribe(list)
        _ = state.socketOpened()
        _ = state.receive(transition(from: .initial, to: at(10), [updated(.array([]))]))
        return state
    }

    @Test func aMutationFinishesWhenAShownStateContainsItsCommit() {
        var state = subscribed()
        let (id, sent) = state.mutate(udfPath: "notes:add", args: .object([:])) { store in
            store.results[list] = .value(.array([.string("optimistic")]))
        }
        #expect(sent.updates.map(\.1) == [.value(.array([.string("optimistic")]))])

        let response = state.receive(.mutationResponse(.success(requestId: id, result: .string("id"), ts: 20, logLines: [])))
        #expect(response.finished.isEmpty)
        #expect(response.updates.isEmpty)

        let older = state.receive(transition(from: at(10), to: at(15)))
        #expect(older.finished.isEmpty)
        let reaching = state.receive(
            transition(from: at(15), to: at(20), [updated(.array([.string("id")]))]))
        #expect(reaching.finished.map(\.requestId) == [id])
        #expect(reaching.finished.map(\.outcome) == [.success(.string("id"))])
        #expect(reaching.updates.map(\.1) == [.value(.array([.string("id")]))])
    }

    @Test func aFailedMutationRollsBackItsOptimisticUpdate() {
        var state = subscribed()
        let (id, _) = state.mutate(udfPath: "notes:add", args: .object([:])) { store in
            store.results[list] = .value(.array([.string("optimistic")]))
        }
        let failed = state.receive(.mutationResponse(.failure(requestId: id, message: "no", errorData: nil, logLines: [])))
        #expect(failed.finished.map(\.outcome) == [.failure(message: "no", data: nil)])
        #expect(failed.updates.map(\.1) == [.value(.array([]))])
    }

    @Test func aNewSocketReplaysQueriesAndUnfinishedMutationsAndFailsActions() {
        var state = subscribed()
        let (mutation, _) = state.mutate(udfPath: "notes:add", args: .object(["body": .string("x")]), optimisticUpdate: nil)
        let (action, _) = state.act(udfPath: "notes:shout", args: .object([:]))
        _ = state.receive(.mutationResponse(.success(requestId: mutation, result: .null, ts: 30, logLines: [])))
        state.socketClosed()

        let reopened = state.socketOpened()
        #expect(reopened.send == [
            .modifyQuerySet(baseVersion: 0, newVersion: 1, modifications: [
                .add(queryId: 0, udfPath: "notes:list", args: .object([:]), journal: nil, componentPath: nil)
            ]),
            .mutation(requestId: mutation, udfPath: "notes:add", args: .object(["body": .string("x")]), componentPath: nil),
        ])
        #expect(reopened.finished.map(\.requestId) == [action])
        #expect(reopened.finished.map(\.outcome) == [.connectionLost])
        #expect(state.maxObservedTimestamp == 30)
    }

    @Test func aStateOlderThanOneShownIsNotShown() {
        var state = subscribed()
        _ = state.receive(transition(from: at(10), to: at(50), [updated(.array([.string("new")]))]))
        state.socketClosed()
        _ = state.socketOpened()

        // A node that has not caught up answers from an older state: taken in, not shown.
        let behind = state.receive(transition(from: .initial, to: at(40), [updated(.array([]))]))
        #expect(behind.updates.isEmpty)
        let caughtUp = state.receive(
            transition(from: at(40), to: at(60), [updated(.array([.string("newer")]))]))
        #expect(caughtUp.updates.map(\.1) == [.value(.array([.string("newer")]))])
    }

    @Test func aTransitionNotStartingWhereTheClientIsForcesAReconnect() {
        var state = subscribed()
        let effects = state.receive(transition(from: .initial, to: at(70)))
        #expect(
            effects.reconnectReason
                == "Transition starts at (querySet: 0, identity: 0, ts: 0), the client is at (querySet: 1, identity: 0, ts: 10)")
    }

    @Test func tokensExpireAtTheirExpClaim() {
        // Header and signature are not read; the payload is {"sub":"u","exp":1700000000}.
        let token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwiZXhwIjoxNzAwMDAwMDAwfQ.c2ln"
        #expect(TokenExpiry.expiresAt(token) == 1_700_000_000)
        #expect(TokenExpiry.expiresAt("not-a-jwt") == nil)
    }

    @Test func backoffDoublesUpToItsMaximum() {
        let backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect(backoff.delay(afterFailures: 1, jitter: 0.5) == .milliseconds(100))
        #expect(backoff.delay(afterFailures: 3, jitter: 0.5) == .milliseconds(400))
        #expect(backoff.delay(afterFailures: 10, jitter: 0.5) == .seconds(1))
        #expect(backoff.delay(afterFailures: 1, jitter: 0) == .milliseconds(50))
    }
}
