import Logging
import NIOCore
import NIOEmbedded
import RippleLog
@testable import RippleReplication
import RippleStorage
import RippleTestSupport
import Synchronization

/// A commit writing one document whose value is `size` bytes of a repeating pattern (so batches
/// compress).
func makeCommit(ts: CommitTimestamp, size: Int = 40) -> Commit {
    Commit(
        ts: ts,
        writes: [
            .document(
                tableNumber: 1, number: Int64(ts.nanoseconds), id: "doc\(ts)",
                value: (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ Int(ts.nanoseconds)) })
        ]
    )
}

/// Commits with sparse, increasing timestamps starting after `after`.
func makeCommits(count: Int, after: CommitTimestamp, step: UInt64 = 7) -> [Commit] {
    (1...count).map { makeCommit(ts: CommitTimestamp(nanoseconds: after.nanoseconds + UInt64($0) * step)) }
}

let testLogger: Logger = {
    var logger = Logger(label: "ripple.replication.tests")
    logger.logLevel = .critical
    return logger
}()

/// An EmbeddedChannel with the replication pipeline minus the `FrameAuthenticator` (so frames
/// are untagged and every kind is admitted, as on an open link), active, reading
/// `ReplicationMessage`s: what the frame and message codec tests need.
func makeLinkChannel(configuration: ReplicationLinkConfiguration = .init(readTimeout: .hours(1))) throws -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    let handlers = channel.pipeline.syncOperations
    try handlers.addHandler(ReadTimeoutHandler(timeout: configuration.readTimeout))
    try handlers.addHandler(ByteToMessageHandler(LogFrameDecoder(maxFrameSize: configuration.maxFrameSize)))
    let encoder = LogFrameEncoder(compressionThreshold: configuration.compressionThreshold, maxFrameSize: configuration.maxFrameSize)
    try handlers.addHandler(MessageToByteHandler(encoder))
    try handlers.addHandler(ReplicationMessageCodec())
    try handlers.addHandler(LinkErrorHandler(logger: testLogger))
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100)).wait()
    return channel
}

/// An EmbeddedChannel with the whole replication pipeline (`addReplicationHandlers`), active:
/// in its handshake until `LinkKeys` are sent down it.
func makeAuthenticatedLinkChannel(
    configuration: ReplicationLinkConfiguration = .init(readTimeout: .hours(1)),
    opened: (@Sendable () -> Void)? = nil
) throws -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    try channel.pipeline.syncOperations.addReplicationHandlers(configuration: configuration, logger: testLogger, opened: opened)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 7100)).wait()
    return channel
}

/// The bytes the pipeline sends for `messages`.
func encodedBytes(_ messages: [ReplicationMessage]) throws -> [UInt8] {
    let channel = try makeLinkChannel()
    var bytes: [UInt8] = []
    for message in messages {
        try channel.writeOutbound(message)
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readableBytesView
        }
    }
    _ = try channel.finish()
    return bytes
}

/// Feeds `chunks` into a fresh link channel and returns every message it decodes.
func decodeMessages(_ chunks: [ArraySlice<UInt8>]) throws -> [ReplicationMessage] {
    let channel = try makeLinkChannel()
    var messages: [ReplicationMessage] = []
    for chunk in chunks {
        try channel.writeInbound(ByteBuffer(bytes: chunk))
        while let message = try channel.readInbound(as: ReplicationMessage.self) { messages.append(message) }
    }
    _ = try channel.finish()
    return messages
}

/// A raw frame with a correct checksum, for crafting frames the encoder would never send.
func rawFrame(type: UInt8, payload: [UInt8]) -> [UInt8] {
    var crc = CRC32C()
    crc.update(byte: type)
    crc.update(payload)
    var buffer = ByteBuffer()
    buffer.writeInteger(UInt32(5 + payload.count))
    buffer.writeInteger(type)
    buffer.writeInteger(crc.value)
    buffer.writeBytes(payload)
    return Array(buffer.readableBytesView)
}

/// Runs `operation`, failing with `TaskTimedOut` if it takes longer than `seconds` (a guard so a
/// broken test fails instead of hanging; nothing waits on it when things work). `bounded`, not a
/// task group: a group waits for an operation that ignores its cancellation, and so would hang.
func withTimeout<T: Sendable>(seconds: Double = 30, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await bounded("the operation finishes", timeout: .seconds(seconds), operation)
}

/// Continuations waiting for a timestamp to be reached, cancellable.
struct TimestampWaiters {
    private var waiters: [Int: (ts: CommitTimestamp, continuation: CheckedContinuation<Void, any Error>)] = [:]
    private var nextID = 0

    mutating func add(ts: CommitTimestamp, continuation: CheckedContinuation<Void, any Error>) -> Int {
        nextID += 1
        waiters[nextID] = (ts, continuation)
        return nextID
    }

    mutating func reached(_ ts: CommitTimestamp) {
        for (id, waiter) in waiters where waiter.ts <= ts {
            waiters[id] = nil
            waiter.continuation.resume()
        }
    }

    mutating func cancel(_ id: Int) {
        waiters.removeValue(forKey: id)?.continuation.resume(throwing: CancellationError())
    }
}

/// The writer's log, in memory.
actor MemoryCommitLog: CommitSource {
    private(set) var log: [Commit] = []
    private(set) var acknowledgements: [String: CommitTimestamp] = [:]
    private var waiters = TimestampWaiters()
    private var acknowledgementWaiters = TimestampWaiters()
    let heartbeatInterval: Duration

    init(commits: [Commit] = [], heartbeatInterval: Duration = .milliseconds(200)) {
        self.log = commits
        self.heartbeatInterval = heartbeatInterval
    }

    func append(_ commits: [Commit]) {
        log += commits
        waiters.reached(log.last?.ts ?? 0)
        for deliver in followers.withLock({ Array($0.values) }) { deliver(commits) }
    }

    /// Connections on the live tail; `append` is their commit listener.
    private nonisolated let followers = Mutex<[Int: @Sendable ([Commit]) -> Void]>([:])
    private nonisolated let nextFollower = Atomic<Int>(0)

    nonisolated func followCommits(_ deliver: @escaping @Sendable ([Commit]) -> Void) -> (@Sendable () -> Void)? {
        let id = nextFollower.wrappingAdd(1, ordering: .relaxed).oldValue
        followers.withLock { $0[id] = deliver }
        return { [self] in _ = self.followers.withLock { $0.removeValue(forKey: id) } }
    }

    func latestTimestamp() -> CommitTimestamp { log.last?.ts ?? 0 }

    func commits(after: CommitTimestamp, limit: Int) -> [Commit] {
        var low = 0
        var high = log.count
        while low < high {
            let mid = (low + high) / 2
            if log[mid].ts <= after { low = mid + 1 } else { high = mid }
        }
        return Array(log[low..<min(log.count, low + limit)])
    }

    func waitForCommit(after: CommitTimestamp) async {
        let interval = heartbeatInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: interval) }
            group.addTask { try? await self.waitUntilCommit(after: after) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitUntilCommit(after: CommitTimestamp) async throws {
        let box = IDBox()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if latestTimestamp() > after { return continuation.resume() }
                if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                box.id = waiters.add(ts: after.next, continuation: continuation)
            }
        } onCancel: {
            Task { await self.cancelWaiter(box) }
        }
    }

    private func cancelWaiter(_ box: IDBox) {
        if let id = box.id { waiters.cancel(id) }
    }

    nonisolated func handleForward(_ payload: [UInt8]) async -> [UInt8] {
        payload.reversed()
    }

    nonisolated func replicaAcknowledged(nodeID: String, appliedTimestamp: CommitTimestamp) {
        Task { await self.recordAcknowledgement(nodeID: nodeID, appliedTimestamp: appliedTimestamp) }
    }

    private func recordAcknowledgement(nodeID: String, appliedTimestamp: CommitTimestamp) {
        acknowledgements[nodeID] = max(acknowledgements[nodeID] ?? 0, appliedTimestamp)
        acknowledgementWaiters.reached(appliedTimestamp)
    }

    /// Returns once some replica acknowledged `ts`.
    func waitForAcknowledgement(_ ts: CommitTimestamp) async throws {
        let box = IDBox()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if acknowledgements.values.contains(where: { $0 >= ts }) { return continuation.resume() }
                if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                box.id = acknowledgementWaiters.add(ts: ts, continuation: continuation)
            }
        } onCancel: {
            Task { await self.cancelAcknowledgementWaiter(box) }
        }
    }

    private func cancelAcknowledgementWaiter(_ box: IDBox) {
        if let id = box.id { acknowledgementWaiters.cancel(id) }
    }
}

/// Holds a waiter id between an actor-isolated registration and its cancellation handler.
final class IDBox: @unchecked Sendable {
    // Only touched on the owning actor (registration and `cancelWaiter` both run there).
    var id: Int?
}

/// Runs jobs one at a time in the order they were queued: gives the actor sinks below the
/// queued `CommitSink.apply(_:following:completion:)` (a `Task` per job would not keep order).
final class SerialJobs: Sendable {
    private struct State {
        var jobs: [@Sendable () async -> Void] = []
        var running = false
    }

    private let state = Mutex(State())

    func enqueue(_ job: @escaping @Sendable () async -> Void) {
        let start = state.withLock { state in
            state.jobs.append(job)
            defer { state.running = true }
            return !state.running
        }
        guard start else { return }
        Task {
            while let job = state.withLock({ state -> (@Sendable () async -> Void)? in
                if state.jobs.isEmpty {
                    state.running = false
                    return nil
                }
                return state.jobs.removeFirst()
            }) {
                await job()
            }
        }
    }
}

/// What a test replica applied, in order, and anything applied twice, out of order or after a
/// gap — the bookkeeping both test replicas share.
struct AppliedCommits {
    private(set) var current: CommitTimestamp
    private(set) var applied: [Commit] = []
    private(set) var violations: [String] = []

    init(at ts: CommitTimestamp = 0) { current = ts }

    /// Applies a batch that must follow `previous` exactly, as the link's batches chain.
    mutating func apply(_ commits: [Commit], following previous: CommitTimestamp) -> Result<CommitTimestamp, any Error> {
        guard previous == current else {
            violations.append("commits after \(previous) queued at \(current)")
            return .failure(ReplicationError.gap(lastReceived: current, previousTimestamp: previous))
        }
        apply(commits)
        return .success(current)
    }

    mutating func apply(_ commits: [Commit]) {
        for commit in commits {
            if commit.ts <= current { violations.append("commit \(commit.ts) applied after \(current)") }
            applied.append(commit)
            current = commit.ts
        }
    }

    /// Starts over at a snapshot's timestamp.
    mutating func reset(at ts: CommitTimestamp) {
        applied = []
        current = ts
    }
}

/// The replica's database, in memory; records anything applied twice or out of order.
actor MemoryReplica: CommitSink {
    private var log = AppliedCommits()
    private var waiters = TimestampWaiters()
    private let jobs = SerialJobs()

    var applied: [Commit] { log.applied }
    var violations: [String] { log.violations }
    private var current: CommitTimestamp { log.current }

    func appliedTimestamp() -> CommitTimestamp { current }

    nonisolated func apply(
        _ commits: [Commit], following previous: CommitTimestamp, completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void
    ) {
        jobs.enqueue { await self.applyQueued(commits, following: previous, completion: completion) }
    }

    private func applyQueued(
        _ commits: [Commit], following previous: CommitTimestamp, completion: @Sendable (Result<CommitTimestamp, any Error>) -> Void
    ) {
        let outcome = log.apply(commits, following: previous)
        waiters.reached(current)
        completion(outcome)
    }

    func apply(_ commits: [Commit]) {
        log.apply(commits)
        waiters.reached(current)
    }

    /// Returns once everything through `ts` is applied.
    func waitUntilApplied(_ ts: CommitTimestamp) async throws {
        let box = IDBox()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if current >= ts { return continuation.resume() }
                if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                box.id = waiters.add(ts: ts, continuation: continuation)
            }
        } onCancel: {
            Task { await self.cancelWaiter(box) }
        }
    }

    private func cancelWaiter(_ box: IDBox) {
        if let id = box.id { waiters.cancel(id) }
    }
}
