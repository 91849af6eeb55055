import Logging
import NIOCore
import NIOPosix
import RippleLog
import Synchronization

/// A replica's end of replication: connects to the writer, proves it knows the cluster secret,
/// applies the commits the writer streams through its `CommitSink`, and forwards requests to the
/// writer over the same link. Reconnects with backoff whenever the link fails, resuming from the
/// sink's durable position.
public actor ReplicationClient {
    /// Tuning for the client; the defaults suit production.
    public struct Configuration: Sendable {
        /// Frame limits and read timeout, shared with the writer.
        public var link: ReplicationLinkConfiguration
        /// The first pause before reconnecting; it doubles after each failure...
        public var initialBackoff: Duration
        /// ...up to this.
        public var maxBackoff: Duration
        /// How long a TCP connect may take.
        public var connectTimeout: TimeAmount
        /// The link stops reading once batches of this many bytes wait to be applied...
        public var applyQueueHighWater: Int
        /// ...and reads again once they are down to this many.
        public var applyQueueLowWater: Int
        /// The leadership term of the writer to follow (0 without failover); a writer of another
        /// term refuses the link, so a replaced writer is never followed.
        public var term: UInt64 = 0

        public init(
            link: ReplicationLinkConfiguration = .init(),
            initialBackoff: Duration = .milliseconds(100),
            maxBackoff: Duration = .seconds(5),
            connectTimeout: TimeAmount = .seconds(5),
            applyQueueHighWater: Int = 32 << 20,
            applyQueueLowWater: Int = 8 << 20
        ) {
            self.link = link
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.connectTimeout = connectTimeout
            self.applyQueueHighWater = applyQueueHighWater
            self.applyQueueLowWater = applyQueueLowWater
        }
    }

    typealias Connection = NIOAsyncChannel<ReplicationMessage, ReplicationMessage>

    /// The accepted link forwards go out on.
    private struct Link {
        let id: Int
        let outbox: AsyncStream<ReplicationMessage>.Continuation
    }

    private struct PendingForward {
        let linkID: Int
        let continuation: CheckedContinuation<[UInt8], any Error>
    }

    private let writerHost: String
    private let writerPort: Int
    private let clusterID: String
    private let nodeID: String
    private let secret: [UInt8]
    private let sink: any CommitSink
    private let logger: Logger
    private let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup

    private var link: Link?
    private var nextLinkID = 0
    private var nextRequestID: UInt64 = 1
    private var pendingForwards: [UInt64: PendingForward] = [:]
    /// Set by `abandonForwards`: no forward is sent any more.
    private var forwardsAbandoned = false

    /// The newest commit timestamp the writer has announced (in `accepted`, heartbeats and
    /// commits); 0 before the first link.
    public nonisolated var writerLatestTimestamp: CommitTimestamp { CommitTimestamp(nanoseconds: announcedTimestamp.load(ordering: .relaxed)) }

    /// Backs `writerLatestTimestamp`. An atomic rather than actor state: the receive loop
    /// updates it for every message and must not hop to the actor's executor to do so.
    private nonisolated let announcedTimestamp = Atomic<UInt64>(0)

    public init(
        writerHost: String,
        writerPort: Int,
        clusterID: String,
        nodeID: String,
        secret: [UInt8],
        sink: any CommitSink,
        logger: Logger,
        configuration: Configuration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.writerHost = writerHost
        self.writerPort = writerPort
        self.clusterID = clusterID
        self.nodeID = nodeID
        self.secret = secret
        self.sink = sink
        var logger = logger
        logger[metadataKey: "writer"] = "\(writerHost):\(writerPort)"
        self.logger = logger
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
    }

    /// Whether a link to the writer is open (forwards can be sent).
    public var isConnected: Bool { link != nil }

    /// Follows the writer until the calling task is cancelled (then returns). Any link failure is
    /// logged and retried with backoff — a refusal too: it carries no proof of the secret, so
    /// anyone on the path could have sent it, and a replica that gave up on it would stay down.
    public nonisolated func run() async throws {
        var backoff = configuration.initialBackoff
        while !Task.isCancelled {
            var accepted = false
            do {
                try await follow(accepted: &accepted)
                logger.info("writer closed the replication link")
            } catch ReplicationError.refused(let reason) {
                logger.error(
                    "writer refused this replica; check the cluster id and secret. Retrying",
                    metadata: ["reason": "\(reason.logSafe)", "retryIn": "\(backoff)"])
            } catch ReplicationError.writerNotAuthenticated {
                logger.error("the writer did not prove the cluster secret; check the cluster secret. Retrying", metadata: ["retryIn": "\(backoff)"])
            } catch {
                if Task.isCancelled { break }
                logger.warning("replication link failed", metadata: ["error": "\(error)"])
            }
            if accepted { backoff = configuration.initialBackoff }
            do {
                try await Task.sleep(for: backoff)
            } catch {
                break
            }
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
    }

    /// Sends `payload` to the writer's `CommitSource.handleForward` and returns its answer.
    /// Throws `ReplicationError.writerUnavailable` (retryable) when there is no link or it drops
    /// before the answer arrives — the request may or may not have run on the writer.
    public func forward(_ payload: [UInt8]) async throws -> [UInt8] {
        guard let link, !forwardsAbandoned else { throw ReplicationError.writerUnavailable }
        let requestID = nextRequestID
        nextRequestID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard !Task.isCancelled else { return continuation.resume(throwing: CancellationError()) }
                pendingForwards[requestID] = PendingForward(linkID: link.id, continuation: continuation)
                if case .terminated = link.outbox.yield(.forward(requestID: requestID, payload: payload)) {
                    finishForward(requestID, with: .failure(ReplicationError.writerUnavailable))
                }
            }
        } onCancel: {
            Task { await self.finishForward(requestID, with: .failure(CancellationError())) }
        }
    }

    // MARK: - One link

    /// Connects, shakes hands and applies commits until the link ends. Sets `accepted` once the
    /// writer accepted, so the caller can reset its backoff.
    ///
    /// Batches go to the sink without waiting for the previous one to be applied — queued by the
    /// `ReplicaCommitHandler` on the event loop, or by this loop after a snapshot — and the ack
    /// for a batch is sent from the sink's completion, so it names only durable commits. Before a
    /// snapshot is installed and before the link ends, the loop waits for every queued batch, so
    /// the next position starts from what the sink really holds.
    private nonisolated func follow(accepted: inout Bool) async throws {
        let applied = try await sink.appliedTimestamp()
        let appliedTerm = try await sink.appliedTerm()
        let applies = QueuedApplies(
            appliedTimestamp: applied, highWater: configuration.applyQueueHighWater, lowWater: configuration.applyQueueLowWater)
        let connection = try await connect(applied: applied, appliedTerm: appliedTerm, applies: applies)
        try await connection.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            let latest = try await waitForAcceptance(&messages)
            accepted = true
            logger.info("following the writer", metadata: ["applied": "\(applied)", "writerLatest": "\(latest)"])

            let (outbox, outboxWriter) = AsyncStream.makeStream(of: ReplicationMessage.self)
            let linkID = await linkOpened(outbox: outboxWriter, writerLatest: latest)
            let channel = connection.channel
            do {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask {
                        do {
                            for await message in outbox { try await outbound.write(message) }
                        } catch {
                            connection.channel.close(promise: nil)
                            throw error
                        }
                    }
                    var stream = ReplicaStream(appliedTimestamp: applied, writerLatestTimestamp: latest)
                    var snapshot = SnapshotReceiver()
                    var snapshotBytes: [UInt8] = []
                    var snapshotStarted = ContinuousClock.now
                    while let message = try await messages.next() {
                        switch message {
                        case .snapshotBegin, .snapshotChunk, .snapshotEnd:
                            switch try snapshot.receive(message) {
                            case .begin(let ts, let total):
                                logger.info("receiving a snapshot", metadata: ["ts": "\(ts)", "bytes": "\(total)"])
                                snapshotStarted = ContinuousClock.now
                                snapshotBytes = []
                                snapshotBytes.reserveCapacity(Int(min(total, 1 << 30)))
                            case .write(_, let bytes):
                                snapshotBytes += bytes
                            case .complete(let ts):
                                await applies.drained()
                                if let failure = applies.failure { throw failure }
                                let received = ContinuousClock.now - snapshotStarted
                                // Installing a large snapshot takes a while: keep acking the old
                                // position so the writer's read timeout does not close the link.
                                let bytes = snapshotBytes
                                let position = applies.appliedTimestamp
                                let sink = self.sink
                                try await withThrowingTaskGroup(of: Void.self) { install in
                                    install.addTask { try await sink.install(snapshot: bytes, at: ts) }
                                    install.addTask {
                                        while true {
                                            try await Task.sleep(for: .seconds(2))
                                            outboxWriter.yield(.ack(appliedTimestamp: position))
                                        }
                                    }
                                    try await install.next()
                                    install.cancelAll()
                                }
                                logger.info("installed snapshot", metadata: [
                                    "ts": "\(ts)", "bytes": "\(snapshotBytes.count)", "received": "\(received)",
                                    "total": "\(ContinuousClock.now - snapshotStarted)",
                                ])
                                snapshotBytes = []
                                stream = ReplicaStream(appliedTimestamp: ts, writerLatestTimestamp: max(ts, stream.writerLatestTimestamp))
                                applies.installed(ts)
                                outboxWriter.yield(.ack(appliedTimestamp: ts))
                                writerAnnounced(stream.writerLatestTimestamp)
                            }
                            continue
                        default:
                            if snapshot.isReceiving {
                                // The writer answers a forwarded call as soon as it commits, beside the
                                // ordered stream (ReplicationServer.serve), so an answer may arrive in the
                                // middle of a snapshot; nothing of the ordered stream may.
                                guard case .forwardResult(let requestID, let payload) = message else {
                                    throw ReplicationError.unexpectedMessage("\(message.kind) during a snapshot")
                                }
                                await finishForward(requestID, with: .success(payload))
                                continue
                            }
                        }
                        let previous = stream.lastReceivedTimestamp
                        // A heartbeat is answered with what the sink has made durable by now.
                        _ = stream.applied(through: applies.appliedTimestamp)
                        switch try stream.receive(message) {
                        case .apply(let commits):
                            // The completion's failure closes the channel, which ends this loop;
                            // the failure is rethrown below.
                            ReplicaCommitHandler.queue(commits, following: previous, on: sink, applies: applies, channel: channel)
                            writerAnnounced(stream.writerLatestTimestamp)
                        case .send(let reply):
                            outboxWriter.yield(reply)
                            writerAnnounced(stream.writerLatestTimestamp)
                        case .deliverForwardResult(let requestID, let payload):
                            await finishForward(requestID, with: .success(payload))
                        }
                    }
                    await applies.drained()
                    outboxWriter.finish()
                    if let failure = applies.failure { throw failure }
                }
            } catch {
                outboxWriter.finish()
                await applies.drained()
                await linkClosed(linkID)
                throw applies.failure ?? error
            }
            await linkClosed(linkID)
        }
    }

    private nonisolated func connect(applied: CommitTimestamp, appliedTerm: UInt64, applies: QueuedApplies) async throws -> Connection {
        let link = configuration.link
        let term = configuration.term
        let logger = logger
        let sink = sink
        let (clusterID, nodeID, secret) = (clusterID, nodeID, secret)
        return try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: writerHost, port: writerPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addReplicationHandlers(configuration: link, logger: logger)
                    let handshake = ReplicaHandshake(
                        clusterID: clusterID, nodeID: nodeID, secret: secret, appliedTimestamp: applied, term: term, appliedTerm: appliedTerm)
                    try channel.pipeline.syncOperations.addHandler(
                        ReplicaCommitHandler(handshake: handshake, appliedTimestamp: applied, sink: sink, applies: applies) { [self] in
                            writerAnnounced($0)
                        })
                    return try Connection(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Waits for the `ReplicaCommitHandler` to finish the handshake; returns the writer's latest
    /// timestamp. A refusal or failed handshake arrives as the error the iterator throws.
    private nonisolated func waitForAcceptance(
        _ messages: inout NIOAsyncChannelInboundStream<ReplicationMessage>.AsyncIterator
    ) async throws -> CommitTimestamp {
        guard let message = try await messages.next() else { throw ReplicationError.writerUnavailable }
        guard case .accepted(let latest, _) = message else {
            throw ReplicationError.unexpectedMessage("\(message.kind) during the handshake")
        }
        return latest
    }

    // MARK: - State

    private func linkOpened(outbox: AsyncStream<ReplicationMessage>.Continuation, writerLatest: CommitTimestamp) -> Int {
        nextLinkID += 1
        link = Link(id: nextLinkID, outbox: outbox)
        writerAnnounced(writerLatest)
        return nextLinkID
    }

    /// Fails every forward waiting for the writer's answer, and every later one, with
    /// `writerUnavailable` (the caller cannot know whether it ran): the writer followed is no
    /// longer the leader, and a paused one would hold its callers until its link timed out.
    public func abandonForwards() {
        forwardsAbandoned = true
        for (requestID, pending) in pendingForwards {
            pendingForwards[requestID] = nil
            pending.continuation.resume(throwing: ReplicationError.writerUnavailable)
        }
    }

    private func linkClosed(_ linkID: Int) {
        if link?.id == linkID { link = nil }
        for (requestID, pending) in pendingForwards where pending.linkID == linkID {
            pendingForwards[requestID] = nil
            pending.continuation.resume(throwing: ReplicationError.writerUnavailable)
        }
    }

    private nonisolated func writerAnnounced(_ latest: CommitTimestamp) {
        announcedTimestamp.max(latest.nanoseconds, ordering: .relaxed)
    }

    private func finishForward(_ requestID: UInt64, with result: Result<[UInt8], any Error>) {
        pendingForwards.removeValue(forKey: requestID)?.continuation.resume(with: result)
    }
}
