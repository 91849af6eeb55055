import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay between the client and a node, so a test can point the client's one address at
/// a restarted node, cut every connection, or cut one at the moment the server sends a given
/// message (the client then never receives it).
final class TestProxy: Sendable {
    let port: Int
    private let listener: any Channel
    private let links: Links

    static func start(upstreamPort: Int) async throws -> TestProxy {
        let links = Links(upstreamPort: upstreamPort)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { client in links.relay(client) }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestProxy(listener: listener, links: links)
    }

    private init(listener: any Channel, links: Links) {
        self.listener = listener
        self.port = listener.localAddress!.port!
        self.links = links
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// How many connections were cut by `cutWhenServerSends`.
    var cuts: Int { links.shared.withLock { $0.cuts } }

    func setUpstream(port: Int) { links.shared.withLock { $0.upstreamPort = port } }

    /// Cuts the next connection whose server-to-client bytes contain `text`, dropping those bytes.
    func cutWhenServerSends(_ text: String) { links.shared.withLock { $0.cutOnServerText = text } }

    /// Closes every open connection.
    func cutAll() {
        for channel in links.shared.withLock({ $0.connections }) { channel.close(promise: nil) }
    }

    func stop() async {
        cutAll()
        try? await listener.close()
    }
}

/// The relay's connections and rules, shared with the event loops that carry the bytes.
private final class Links: Sendable {
    struct Shared {
        var upstreamPort: Int
        var cutOnServerText: String?
        var cuts = 0
        var connections: [any Channel] = []
    }

    let shared: Mutex<Shared>

    init(upstreamPort: Int) { shared = Mutex(Shared(upstreamPort: upstreamPort)) }

    /// Connects `client` to the upstream node; bytes flow both ways until either side closes.
    func relay(_ client: any Channel) -> EventLoopFuture<Void> {
        let upstreamPort = shared.withLock { shared in
            shared.connections.append(client)
            return shared.upstreamPort
        }
        return ClientBootstrap(group: client.eventLoop)
            .channelInitializer { upstream in
                upstream.eventLoop.makeCompletedFuture {
                    try upstream.pipeline.syncOperations.addHandler(Relay(to: client, inspect: { bytes in self.shouldCut(bytes) }))
                }
            }
            .connect(host: "127.0.0.1", port: upstreamPort)
            .flatMapThrowing { upstream in
                try client.pipeline.syncOperations.addHandler(Relay(to: upstream, inspect: { _ in false }))
            }
    }

    private func shouldCut(_ bytes: ByteBuffer) -> Bool {
        shared.withLock { shared in
            guard let text = shared.cutOnServerText, String(buffer: bytes).contains(text) else { return false }
            shared.cutOnServerText = nil
            shared.cuts += 1
            return true
        }
    }
}

/// Copies what one side reads to the other; closing either side closes both. `inspect` returning
/// true drops the bytes and closes both instead.
private final class Relay: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let partner: any Channel
    let inspect: @Sendable (ByteBuffer) -> Bool

    init(to partner: any Channel, inspect: @escaping @Sendable (ByteBuffer) -> Bool) {
        self.partner = partner
        self.inspect = inspect
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if inspect(bytes) {
            context.close(promise: nil)
            partner.close(promise: nil)
            return
        }
        partner.writeAndFlush(bytes, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
        context.fireChannelInactive()
    }
}
