import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import RippleListener
import ServiceLifecycle

/// A node's client port as a Service: `SyncServer`'s Hummingbird application, stopped so that
/// no client is cut off mid-request and no accepted connection is lost.
///
/// On graceful shutdown (SIGTERM, or the node changing role) it refuses new sync sockets and
/// closes the open ones going-away (1001: the clients reconnect, to this node in its next role
/// or to another; a socket whose client does not answer is cut `SyncServer.goingAwayGrace`
/// later), then lets Hummingbird stop accepting and finish the HTTP requests in flight;
/// the node's lifecycle bounds how long all that may take and cancels what is left. On every
/// path out, cancellation included, the connections NIO accepted but never handed to the server
/// are finished and closed (`AcceptedConnections`): dropped unfinished, one traps the process.
public struct ClientListener: Service {
    let application: any Service
    let admission: SocketAdmission
    let accepted: AcceptedConnections<ClaimedChildChannel.Value>
    let logger: Logger

    public func run() async throws {
        let server = ServiceGroup(configuration: .init(services: [application], logger: logger))
        // Detached, so that the node's graceful shutdown does not reach the WebSocket library
        // directly (it would close every socket 1000, normal closure, racing the going-away
        // close): the handler below sends the going-away closes first (bounded by the grace),
        // then shuts the server down, which stops accepting and waits for the connections.
        let serving = Task.detached { try await server.run() }
        let admission = self.admission
        do {
            try await withTaskCancellationHandler {
                try await withGracefulShutdownHandler {
                    try await serving.value
                } onGracefulShutdown: {
                    Task {
                        await admission.goAway()
                        await server.triggerGracefulShutdown()
                    }
                }
            } onCancel: {
                serving.cancel()
            }
        } catch {
            await accepted.closeUnclaimed()
            throw error
        }
        await accepted.closeUnclaimed()
    }
}

/// Hummingbird's HTTP/1 channel with the WebSocket upgrade, each connection it sets up held in
/// `accepted` until the server hands it to `handle`.
struct ClaimedChildChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let base: HTTP1WebSocketUpgradeChannel.Value
        /// Closes the connection and lets the child channel finish it: once its first request
        /// arrived it holds an HTTP or WebSocket channel whose writer must be finished.
        let finishUnclaimed: @Sendable () async -> Void

        var channel: any Channel { base.channel }
    }

    let base: HTTP1WebSocketUpgradeChannel
    let accepted: AcceptedConnections<Value>

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let base = self.base
        let accepted = self.accepted
        // A connection refused by `wrap` (the listener is stopping) is closed before its first
        // request: its upgrade fails and it never holds a channel writer.
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(SilentConnectionCloser(), position: .first)
            return try accepted.wrap(channel) {
                Value(base: value) {
                    try? await channel.close()
                    await base.handle(value: value, logger: logger)
                }
            }
        }
    }

    /// Hummingbird waits for a connection's first request (it decides between HTTP and a
    /// WebSocket) without heeding cancellation, so a client that connected and sent nothing held
    /// the cancelled listener, and the node's role change, forever. Cancelled, the connection's
    /// input is shut as Hummingbird does once a request has come: that ends the wait, and a
    /// request in flight still gets its answer. Whichever way the handler ends, the connection
    /// is closed then: nothing else would close one whose wait ended that way.
    func handle(value: Value, logger: Logger) async {
        accepted.claim(value.channel)
        await withTaskCancellationHandler {
            await base.handle(value: value.base, logger: logger)
        } onCancel: {
            value.channel.close(mode: .input, promise: nil)
        }
        try? await value.channel.close()
    }
}
