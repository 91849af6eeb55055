import Crypto
import Synchronization
import Logging
import NIOCore
import NIOPosix
import RippleListener
import RippleLog

/// The writer's end of replication: accepts replicas on the cluster port, checks their proof of
/// the cluster secret, then streams them the commit log — catch-up in batches, live tail after,
/// heartbeats when idle — and answers the requests they forward.
public actor ReplicationServer {
    /// Tuning for the server; the defaults suit production.
    public struct Configuration: Sendable {
        /// Frame limits and read timeout, shared with the replicas.
        public var link: ReplicationLinkConfiguration
        /// At most this many commits per `commits` message.
        public var maxBatchCommits: Int
        /// A `commits` message is closed once it holds about this many bytes.
        public var maxBatchBytes: Int
        /// Challenge nonces; replaceable in tests.
        public var nonceSource: @Sendable () -> [UInt8]
        /// Snapshots travel in `snapshotChunk` messages of at most this many bytes.
        public var snapshotChunkBytes: Int = 1 << 20
        /// How often a replica on the live tail gets a heartbeat.
        public var heartbeatInterval: Duration = .seconds(1)
        /// At most this many links may be in their handshake at once; more are closed on
        /// connect, so a flood of unauthenticated sockets holds little.
        public var maxPendingLinks: Int = 64
        /// This writer's leadership term (0 without failover): replicas must name it in their
        /// hello, and a replica whose position is not in this writer's log (an old writer's
        /// divergent tail) gets a snapshot instead of a refusal.
        public var term: UInt64 = 0

        public init(
            link: ReplicationLinkConfiguration = .init(),
            maxBatchCommits: Int = 1_000,
            maxBatchBytes: Int = 4 << 20,
            nonceSource: @escaping @Sendable () -> [UInt8] = HandshakeProof.randomNonce
        ) {
            self.link = link
            self.maxBatchCommits = maxBatchCommits
            self.maxBatchBytes = maxBatchBytes
            self.nonceSource = nonceSource
        }
    }

    typealias Connection = NIOAsyncChannel<ReplicationMessage, ReplicationMessage>

    private enum State {
        case idle
        case listening(port: Int)
        case stopped((any Error)?)
    }

    private let host: String
    private let port: Int
    private let clusterID: String
    private let secret: [UInt8]
    private let source: any CommitSource
    private let logger: Logger
    private let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    private var state = State.idle
    private let pendingLinks: PendingLinks
    private var boundWaiters: [CheckedContinuation<Int, any Error>] = []

    /// - Parameters:
    ///   - port: the port to listen on; 0 picks a free one (see `boundPort`).
    ///   - secret: the cluster secret replicas must prove they know.
    public init(
        host: String,
        port: Int,
        clusterID: String,
        secret: [UInt8],
        source: any CommitSource,
        logger: Logger,
        configuration: Configuration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        self.clusterID = clusterID
        self.secret = secret
        self.source = source
        self.logger = logger
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.pendingLinks = PendingLinks(limit: configuration.maxPendingLinks)
    }

    /// The port the server listens on, once `run()` has bound it; nil before and after.
    public var boundPort: Int? {
        if case .listening(let port) = state { return port }
        return nil
    }

    /// Waits until `run()` has bound its port and returns it; throws if `run()` ended first (its
    /// bind error, or `CancellationError` when it was stopped).
    public func waitUntilBound() async throws -> Int {
        switch state {
        case .listening(let port): return port
        case .stopped(let error): throw error ?? CancellationError()
        case .idle: return try await withCheckedThrowingContinuation { boundWaiters.append($0) }
        }
    }

    /// Binds and serves replicas until the calling task is cancelled, then closes every link and
    /// returns. Throws if the port cannot be bound.
    public nonisolated func run() async throws {
        // An unclaimed link is finished by an empty `executeThenClose`.
        let accepted = AcceptedConnections<Connection> { _ = try? await $0.executeThenClose { _, _ in } }
        let listener: NIOAsyncChannel<Connection, Never>
        do {
            listener = try await bind(accepted)
        } catch {
            await stopped(error)
            throw error
        }
        let port = listener.channel.localAddress?.port ?? port
        await listening(on: port)
        logger.info("replication server listening", metadata: ["host": "\(host)", "port": "\(port)"])
        var failure: (any Error)?
        do {
            try await listener.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        accepted.claim(connection.channel)
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } catch where Task.isCancelled {
            // Cancellation is how the server is stopped.
        } catch {
            failure = error
        }
        await accepted.closeUnclaimed()
        await stopped(failure)
        if let failure { throw failure }
        logger.info("replication server stopped", metadata: ["port": "\(port)"])
    }

    // MARK: - Listening

    private nonisolated func bind(_ accepted: AcceptedConnections<Connection>) async throws
        -> NIOAsyncChannel<Connection, Never>
    {
        let link = configuration.link
        let logger = logger
        let pendingLinks = pendingLinks
        return try await ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let pending = pendingLinks.admit() else {
                        logger.warning("refused a replication connection: too many links in their handshake")
                        // A failed initializer alone leaves the accepted socket to NIO's mercy.
                        channel.close(promise: nil)
                        throw ReplicationError.tooManyPendingLinks
                    }
                    channel.closeFuture.whenComplete { _ in pending.finish() }
                    try channel.pipeline.syncOperations.addReplicationHandlers(configuration: link, logger: logger) { pending.finish() }
                    return try accepted.wrap(channel) { try Connection(wrappingChannelSynchronously: channel) }
                }
            }
    }

    private func listening(on port: Int) {
        state = .listening(port: port)
        for waiter in boundWaiters { waiter.resume(returning: port) }
        boundWaiters = []
    }

    private func stopped(_ error: (any Error)?) {
        state = .stopped(error)
        for waiter in boundWaiters { waiter.resume(throwing: error ?? CancellationError()) }
        boundWaiters = []
    }

    // MARK: - One replica

    private nonisolated func serve(_ connection: Connection) async {
        var logger = logger
        logger[metadataKey: "replica"] = "\(connection.channel.remoteAddress.map { "\($0)" } ?? "?")"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var messages = inbound.makeAsyncIterator()
                // Everything the writer sends in order — handshake, commits, heartbeats, snapshots — is
                // written straight to the channel, which the live tail also does from the committing
                // thread: one path keeps the order. Only forward results, which need no order, go
                // through `outbound`.
                let channel = connection.channel
                guard let (nodeID, applied, appliedTerm) = try await handshake(&messages, channel: channel, logger: logger) else { return }
                logger[metadataKey: "node"] = "\(nodeID.logSafe)"
                logger.info("replica connected", metadata: ["applied": "\(applied)", "appliedTerm": "\(appliedTerm)"])
                // The hello's position is no acknowledgement: acks count only above it.
                source.replicaConnected(nodeID: nodeID, at: applied)
                defer { source.replicaDisconnected(nodeID: nodeID) }
                let streamLogger = logger
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask {
                        do {
                            try await self.streamCommits(after: applied, term: appliedTerm, to: channel, logger: streamLogger)
                        } catch {
                            // Wakes the receive loop below, which is waiting on the socket.
                            channel.close(promise: nil)
                            throw error
                        }
                    }
                    var inbound = ReplicaInbound()
                    while let message = try await messages.next() {
                        switch try inbound.interpret(message) {
                        case .acknowledged(let ts):
                            source.replicaAcknowledged(nodeID: nodeID, appliedTimestamp: ts)
                        case .forward(let requestID, let payload):
                            group.addTask {
                                let result = await self.source.handleForward(payload)
                                try await outbound.write(.forwardResult(requestID: requestID, payload: result))
                            }
                        }
                    }
                    group.cancelAll()
                }
            }
            logger.info("replica disconnected")
        } catch is CancellationError {
            logger.info("replica link closed: server stopping")
        } catch {
            logger.info("replica link closed", metadata: ["error": "\(error)"])
        }
    }

    /// Runs the handshake; returns the replica's node id and applied position once accepted, or
    /// nil when it was refused or left.
    private nonisolated func handshake(
        _ messages: inout NIOAsyncChannelInboundStream<ReplicationMessage>.AsyncIterator,
        channel: any Channel,
        logger: Logger
    ) async throws -> (nodeID: String, applied: CommitTimestamp, appliedTerm: UInt64)? {
        var handshake = WriterHandshake(clusterID: clusterID, secret: secret, nonceSource: configuration.nonceSource, term: configuration.term)
        while let message = try await messages.next() {
            var action = handshake.receive(message)
            if case .lookUpLatestTimestamp = action {
                action = handshake.latestTimestampFound(try await source.latestTimestamp())
            }
            switch action {
            case .send(let reply):
                try await channel.writeAndFlush(reply)
            case .lookUpLatestTimestamp:
                preconditionFailure("WriterHandshake asked for the latest timestamp twice")
            case .accept(let nodeID, let applied, let appliedTerm, let reply, let keys):
                // `accepted` is the last untagged frame: the keys take over right after it, in one
                // turn of the event loop so that nothing else is written in between.
                try await channel.eventLoop.flatSubmit {
                    let written = channel.writeAndFlush(reply)
                    channel.triggerUserOutboundEvent(keys, promise: nil)
                    return written
                }.get()
                return (nodeID, applied, appliedTerm)
            case .refuse(let refusal, let nodeID, let reply):
                logger.warning("refused replica", metadata: ["reason": "\(refusal.rawValue)", "node": "\((nodeID ?? "?").logSafe)"])
                try await channel.writeAndFlush(reply)
                return nil
            }
        }
        return nil
    }

    /// Catch-up then live tail: sends every commit after `applied`, heartbeats when idle.
    /// When the commits after the replica's position were pruned, or its commit there (`applied`,
    /// sequenced in `term`) is not this log's, sends a snapshot first and continues after the
    /// snapshot's timestamp.
    ///
    /// Catch-up reads the log. Once a read finds nothing new and the source can follow commits,
    /// the connection goes live: the `LiveTail` sends each durable group from the commit
    /// listener, and this task only sends heartbeats — until the tail falls behind, when it
    /// reads the log again from where the tail stopped.
    private nonisolated func streamCommits(after applied: CommitTimestamp, term: UInt64, to channel: any Channel, logger: Logger) async throws {
        var stream = WriterStream(
            appliedTimestamp: applied,
            maxBatchCommits: configuration.maxBatchCommits,
            maxBatchBytes: configuration.maxBatchBytes
        )
        let tail = LiveTail(channel: channel, maxKept: 4 * configuration.maxBatchCommits)
        let stopFollowing = source.followCommits { tail.committed($0) }
        defer {
            stopFollowing?()
            tail.close()
        }
        // The last catch-up batch's write: awaited after the next read, so reading the log
        // overlaps sending, but at most one batch waits in the channel.
        var lastWrite: EventLoopFuture<Void>?
        // Whether the last read found nothing and the loop has waited since: a read that finds
        // nothing again means the wait timed out, and the replica gets a heartbeat.
        var waited = false
        if configuration.term != 0, applied != 0, !(try await source.holdsCommit(at: applied, term: term)) {
            // The replica's log forked from this one (an old writer's unacknowledged tail, or a
            // replica that followed it further than this writer got): its state is replaced.
            // Equal timestamps prove nothing (a writer behind its log's clock issues last + 1):
            // the commit must be this log's, of the same term.
            logger.info(
                "replica position is not in this writer's log; sending a snapshot", metadata: ["position": "\(applied)", "term": "\(term)"])
            let ts = try await sendSnapshot(to: channel, position: applied, logger: logger)
            stream = WriterStream(appliedTimestamp: ts, maxBatchCommits: configuration.maxBatchCommits, maxBatchBytes: configuration.maxBatchBytes)
        }
        while !Task.isCancelled {
            let commits: [Commit]
            do {
                commits = try await source.commits(after: stream.sentTimestamp, limit: configuration.maxBatchCommits)
            } catch let pruned as CommitLogPruned {
                logger.info("replica position was pruned; sending a snapshot", metadata: [
                    "position": "\(stream.sentTimestamp)", "prunedThrough": "\(pruned.through)",
                ])
                let ts = try await sendSnapshot(to: channel, position: stream.sentTimestamp, logger: logger)
                stream = WriterStream(
                    appliedTimestamp: ts, maxBatchCommits: configuration.maxBatchCommits, maxBatchBytes: configuration.maxBatchBytes)
                continue
            }
            if commits.isEmpty, stopFollowing != nil {
                try await lastWrite?.get()
                guard try tail.goLive(stream) else { continue }
                live: while true {
                    switch await tail.waitWhileLive(timeout: configuration.heartbeatInterval) {
                    case .live:
                        if Task.isCancelled { return }
                    case .readLog(let position):
                        stream = position
                        break live
                    case .closed:
                        return
                    }
                }
                continue
            }
            if commits.isEmpty {
                // A woken loop reads the log straight away: asking for the latest timestamp
                // first would put another trip through the reader pool on every live commit.
                if waited {
                    let latest = try await source.latestTimestamp()
                    if latest <= stream.sentTimestamp, !Task.isCancelled {
                        try await channel.writeAndFlush(ReplicationMessage.heartbeat(latestTimestamp: latest))
                    }
                }
                await source.waitForCommit(after: stream.sentTimestamp)
                waited = true
                continue
            }
            waited = false
            try await lastWrite?.get()
            for message in try stream.messages(for: commits) {
                lastWrite = channel.writeAndFlush(message)
            }
        }
    }

    /// Sends a consistent snapshot of the source in chunks; returns its timestamp.
    private nonisolated func sendSnapshot(to channel: any Channel, position: CommitTimestamp, logger: Logger) async throws -> CommitTimestamp {
        let started = ContinuousClock.now
        // Building a large snapshot takes a while: heartbeat the replica's current position
        // meanwhile, so its read timeout does not close the link.
        let source = self.source
        let (ts, bytes) = try await withThrowingTaskGroup(of: (CommitTimestamp, [UInt8])?.self) { build in
            build.addTask { try await source.snapshot() }
            build.addTask {
                while true {
                    try await Task.sleep(for: .seconds(2))
                    try await channel.writeAndFlush(ReplicationMessage.heartbeat(latestTimestamp: position))
                }
            }
            defer { build.cancelAll() }
            while let result = try await build.next() {
                if let result { return result }
            }
            throw CancellationError()
        }
        let built = ContinuousClock.now - started
        try await channel.writeAndFlush(ReplicationMessage.snapshotBegin(ts: ts, totalBytes: UInt64(bytes.count)))
        let chunk = max(1, configuration.snapshotChunkBytes)
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            try await channel.writeAndFlush(ReplicationMessage.snapshotChunk(offset: UInt64(offset), bytes: Array(bytes[offset..<end])))
            offset = end
        }
        try await channel.writeAndFlush(ReplicationMessage.snapshotEnd(sha256: Array(SHA256.hash(data: bytes))))
        logger.info("snapshot sent", metadata: [
            "ts": "\(ts)", "bytes": "\(bytes.count)", "built": "\(built)", "total": "\(ContinuousClock.now - started)",
        ])
        return ts
    }
}

/// The writer's count of links still in their handshake, against `maxPendingLinks`.
final class PendingLinks: Sendable {
    /// One admitted link; `finish()` when it opens or closes, whichever comes first.
    final class Admission: Sendable {
        private let links: PendingLinks
        private let finished = Atomic<Bool>(false)

        init(_ links: PendingLinks) { self.links = links }

        func finish() {
            guard !finished.exchange(true, ordering: .relaxed) else { return }
            links.count.subtract(1, ordering: .relaxed)
        }
    }

    private let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    /// Counts a new link, or returns nil when `limit` links are already pending.
    func admit() -> Admission? {
        let (_, admitted) = count.wrappingAdd(1, ordering: .relaxed)
        guard admitted <= limit else {
            count.subtract(1, ordering: .relaxed)
            return nil
        }
        return Admission(self)
    }
}
