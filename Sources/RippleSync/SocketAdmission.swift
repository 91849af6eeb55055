import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Counts open sync sockets, in total and per remote address, and refuses one beyond
/// `SyncLimits.maxSockets` / `maxSocketsPerAddress`: a socket costs the node a session, a
/// pinger and subscriptions, so one address must not be able to open them without end. Knows
/// how to ask each open socket to go away, for the server's drain.
actor SocketAdmission {
    /// What `admit` decided for a socket.
    enum Decision {
        /// Admitted; give the slot back with `release(ticket)`.
        case admitted(Ticket)
        /// Refused by a limit: send this FatalError and close.
        case refused(String)
        /// The server is draining (shutdown or role change): close going-away, the client
        /// reconnects.
        case draining
    }

    /// An admitted socket's slot.
    struct Ticket: Sendable {
        fileprivate let id: Int
        fileprivate let address: String?
    }

    private let maxSockets: Int
    private let maxPerAddress: Int
    private var open = 0
    private var openByAddress: [String: Int] = [:]
    /// How to ask each open socket to go away: returns once its going-away close is sent.
    private var goAways: [Int: @Sendable () async -> Void] = [:]
    private var lastTicket = 0
    private var draining = false

    init(limits: SyncLimits) {
        maxSockets = limits.maxSockets
        maxPerAddress = limits.maxSocketsPerAddress
    }

    /// Takes a slot for a socket from `address` (`nil`: unknown, counted in the total only)
    /// that `goAway` closes going-away when the server drains, or says why not.
    func admit(_ address: String?, goAway: @escaping @Sendable () async -> Void) -> Decision {
        guard !draining else { return .draining }
        guard maxSockets == 0 || open < maxSockets else { return .refused(LimitExceeded.sockets(maxSockets)) }
        if let address, maxPerAddress > 0 {
            let count = openByAddress[address, default: 0]
            guard count < maxPerAddress else { return .refused(LimitExceeded.socketsPerAddress(maxPerAddress)) }
            openByAddress[address] = count + 1
        }
        open += 1
        lastTicket += 1
        goAways[lastTicket] = goAway
        return .admitted(Ticket(id: lastTicket, address: address))
    }

    /// Sockets holding a slot now.
    var openCount: Int { open }

    func release(_ ticket: Ticket) {
        open -= 1
        goAways[ticket.id] = nil
        guard let address = ticket.address, maxPerAddress > 0, let count = openByAddress[address] else { return }
        openByAddress[address] = count > 1 ? count - 1 : nil
    }

    /// Refuses every socket from now on and asks each open one to go away; returns once each
    /// has sent its going-away close. Each socket then closes when its client answers, or
    /// `SyncServer.goingAwayGrace` later.
    func goAway() async {
        draining = true
        let goAways = Array(self.goAways.values)
        await withDiscardingTaskGroup { group in
            for goAway in goAways { group.addTask { await goAway() } }
        }
    }
}

/// The request context of the sync routes: Hummingbird's WebSocket context plus the peer's
/// address, which socket admission counts by.
struct SyncRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    /// The peer's IP address without its port; `nil` for a Unix socket.
    let remoteAddress: String?
    /// The connection, which a socket asked to go away closes after a grace.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress?.ipAddress
        channel = source.channel
    }
}
