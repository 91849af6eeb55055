import NIOCore
import Synchronization

/// The connections a listener has accepted and wrapped, held until its accept loop claims them,
/// so that each is finished and closed on every path — the listener's cancellation included.
///
/// NIO's async `bind` hands accepted connections to the accept loop through an async sequence
/// that drops what it holds once its consumer stops (swift-nio#2813): a connection accepted as
/// the serving task is cancelled is never handed to anyone, and when its channel becomes active
/// the last reference to its unfinished outbound writer goes, which traps the process
/// ("Deinited NIOAsyncWriter without calling finish()"). A writer stepping down hit exactly
/// that. Here every wrapped connection stays referenced until claimed; once the listener has
/// closed, `closeUnclaimed()` finishes and closes the ones nobody claimed, and any the listener
/// still wraps after that are refused before a writer exists.
final class AcceptedConnections<Inbound: Sendable, Outbound: Sendable>: Sendable {
    typealias Connection = NIOAsyncChannel<Inbound, Outbound>

    private enum State {
        case open(unclaimed: [ObjectIdentifier: Connection])
        case closed
    }

    private let state = Mutex(State.open(unclaimed: [:]))

    init() {}

    /// Wraps an accepted channel (in the child channel initializer, on its event loop) and keeps
    /// the connection until `claim`. Once `closeUnclaimed()` has begun, closes the channel and
    /// throws `closed` instead, without wrapping it.
    func wrap(_ channel: any Channel, _ makeConnection: () throws -> Connection) throws -> Connection {
        try state.withLock { state in
            guard case .open(var unclaimed) = state else {
                channel.close(promise: nil)
                throw AcceptedConnectionsClosed()
            }
            let connection = try makeConnection()
            unclaimed[ObjectIdentifier(channel)] = connection
            state = .open(unclaimed: unclaimed)
            return connection
        }
    }

    /// The accept loop takes `connection` over: from here on it must run `executeThenClose`.
    func claim(_ connection: Connection) {
        state.withLock { state in
            guard case .open(var unclaimed) = state else { return }
            unclaimed.removeValue(forKey: ObjectIdentifier(connection.channel))
            state = .open(unclaimed: unclaimed)
        }
    }

    /// Refuses connections from now on, then finishes and closes every one never claimed. Call
    /// it after the listener has closed, on every path out of the accept loop.
    func closeUnclaimed() async {
        let unclaimed = state.withLock { state in
            defer { state = .closed }
            guard case .open(let unclaimed) = state else { return [Connection]() }
            return Array(unclaimed.values)
        }
        for connection in unclaimed {
            // An empty body: `executeThenClose` finishes the writer and closes the channel.
            try? await connection.executeThenClose { _, _ in }
        }
    }
}

/// A listener wrapped a connection after its unclaimed connections were closed: it is stopping.
struct AcceptedConnectionsClosed: Error, CustomStringConvertible {
    var description: String { "the listener is stopping; the connection was closed" }
}
