import NIOCore
import Synchronization

/// The connections a listener has accepted and wrapped, held until its accept loop claims them,
/// so that each is finished and closed on every path — the listener's cancellation included.
///
/// NIO's async `bind` hands accepted connections to the accept loop through an async sequence
/// that drops what it holds once its consumer stops (swift-nio#2813), and drops a connection
/// whose initializer completes after the listener closed: such a connection is never handed to
/// anyone, and once nothing references its unfinished outbound writer the process traps
/// ("Deinited NIOAsyncWriter without calling finish()"). A writer stepping down hit exactly
/// that. Here every wrapped connection stays referenced until claimed; once the listener has
/// closed, `closeUnclaimed()` finishes and closes the ones nobody claimed, and any the listener
/// still wraps after that are refused before a writer exists.
///
/// Both of a node's listeners use it: the replication server (its connections are
/// `NIOAsyncChannel`s) and the client server (Hummingbird's child channel values).
public final class AcceptedConnections<Connection: Sendable>: Sendable {
    private enum State {
        case open(unclaimed: [ObjectIdentifier: Connection])
        case closed
    }

    private let state = Mutex(State.open(unclaimed: [:]))
    private let finish: @Sendable (Connection) async -> Void

    /// - Parameter finish: finishes and closes a connection nobody claimed (its writer must be
    ///   finished, e.g. by an empty `executeThenClose`).
    public init(finishing finish: @escaping @Sendable (Connection) async -> Void) {
        self.finish = finish
    }

    /// Wraps an accepted channel (in the child channel initializer, on its event loop) and keeps
    /// the connection until `claim`. Once `closeUnclaimed()` has begun, closes the channel and
    /// throws `closed` instead, without wrapping it.
    public func wrap(_ channel: any Channel, _ makeConnection: () throws -> Connection) throws -> Connection {
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

    /// The accept loop takes the connection on `channel` over: from here on it must finish it.
    public func claim(_ channel: any Channel) {
        state.withLock { state in
            guard case .open(var unclaimed) = state else { return }
            unclaimed.removeValue(forKey: ObjectIdentifier(channel))
            state = .open(unclaimed: unclaimed)
        }
    }

    /// Refuses connections from now on, then finishes and closes every one never claimed. Call
    /// it after the listener has closed, on every path out of the accept loop.
    public func closeUnclaimed() async {
        let unclaimed = state.withLock { state in
            defer { state = .closed }
            guard case .open(let unclaimed) = state else { return [Connection]() }
            return Array(unclaimed.values)
        }
        for connection in unclaimed {
            await finish(connection)
        }
    }
}

/// A listener wrapped a connection after its unclaimed connections were closed: it is stopping.
public struct AcceptedConnectionsClosed: Error, CustomStringConvertible {
    public var description: String { "the listener is stopping; the connection was closed" }
}
