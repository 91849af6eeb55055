import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Counts open sync sockets, in total and per remote address, and refuses one beyond
/// `SyncLimits.maxSockets` / `maxSocketsPerAddress`: a socket costs the node a session, a
/// pinger and subscriptions, so one address must not be able to open them without end.
actor SocketAdmission {
    private let maxSockets: Int
    private let maxPerAddress: Int
    private var open = 0
    private var openByAddress: [String: Int] = [:]

    init(limits: SyncLimits) {
        maxSockets = limits.maxSockets
        maxPerAddress = limits.maxSocketsPerAddress
    }

    /// Takes a slot for a socket from `address` (`nil`: unknown, counted in the total only), or
    /// returns the refusal to send. A taken slot must be given back with `release`.
    func admit(_ address: String?) -> String? {
        guard maxSockets == 0 || open < maxSockets else { return LimitExceeded.sockets(maxSockets) }
        if let address, maxPerAddress > 0 {
            let count = openByAddress[address, default: 0]
            guard count < maxPerAddress else { return LimitExceeded.socketsPerAddress(maxPerAddress) }
            openByAddress[address] = count + 1
        }
        open += 1
        return nil
    }

    /// Sockets holding a slot now.
    var openCount: Int { open }

    func release(_ address: String?) {
        open -= 1
        guard let address, maxPerAddress > 0, let count = openByAddress[address] else { return }
        openByAddress[address] = count > 1 ? count - 1 : nil
    }
}

/// The request context of the sync routes: Hummingbird's WebSocket context plus the peer's
/// address, which socket admission counts by.
struct SyncRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    /// The peer's IP address without its port; `nil` for a Unix socket.
    let remoteAddress: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}
