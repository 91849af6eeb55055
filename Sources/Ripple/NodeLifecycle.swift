import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The steps of a node's shutdown, in the order they run: the one place that order is stated.
/// SIGTERM or SIGINT starts it, and so does a part that returns by itself; each step finishes
/// before the next begins. A part that fails (a lost leadership, a changed leader, a port that
/// cannot be bound) ends its role by the same steps, but the rest of them must be done within
/// `NodeLifecycle.roleChangeLimit` (then what is left is cancelled): clients are not cut off
/// mid-request, and a node changing role is soon ready for the next one. A writer that lost its
/// leadership commits nothing meanwhile: its commit gate refuses from the step-down deadline on.
enum ShutdownStep: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// A `node`'s election loop stops standing and looking for roles, and shuts down the role it
    /// runs: that role's steps, below, run inside this one.
    case election
    /// Stop accepting clients, close sync sockets going-away and finish the requests in flight
    /// (a replica's forwarded mutations among them; on a change of leader those fail at once).
    case clients
    /// Stop starting jobs and hand the scheduler lease back, while the writer is still reachable.
    case scheduler
    /// The writer runs the mutations already queued and refuses new ones, so that a mutation
    /// forwarded by a replica still gets its answer over the link that is still up (and the
    /// writer's leadership, still renewed, keeps its commit gate open).
    case mutations
    /// Stop following or holding etcd's leadership record.
    case leadership
    /// Close the replication link: the writer's server, or a replica's client.
    case replication
    /// Stop pruning the commit log.
    case pruner
    /// A replica's applier finishes the commits it received (the link is closed, none follow);
    /// the engine's threads are joined and its SQLite connections released.
    case engine

    var description: String {
        switch self {
        case .election: "stop the election loop and the role it runs"
        case .clients: "stop accepting clients, finish requests in flight"
        case .scheduler: "stop the scheduler, hand its lease back"
        case .mutations: "drain the mutations in flight"
        case .leadership: "stop the leadership loop"
        case .replication: "stop replication"
        case .pruner: "stop the log pruner"
        case .engine: "stop the engine threads, close storage"
        }
    }
}

/// A node's long-lived parts, each at its step of the shutdown order, run as one ServiceGroup.
struct NodeLifecycle {
    /// How long the whole graceful shutdown may take before what is left is cancelled (a
    /// socket that never closes must not keep the process alive): `RIPPLE_SHUTDOWN_SECONDS`,
    /// 30 s by default.
    static func gracefulShutdownLimit(_ environment: [String: String]) throws -> Duration {
        try limit("RIPPLE_SHUTDOWN_SECONDS", default: .seconds(30), environment)
    }

    /// How long the rest of a role may take to shut down once one of its parts failed:
    /// `RIPPLE_ROLE_CHANGE_SECONDS`, 2 s by default. A promotion waits for it, so it is short;
    /// requests still in flight then are cancelled (their clients see the connection close).
    static func roleChangeLimit(_ environment: [String: String]) throws -> Duration {
        try limit("RIPPLE_ROLE_CHANGE_SECONDS", default: .seconds(2), environment)
    }

    /// The most either shutdown limit may be: a node that waits longer for its parts is stuck.
    static let longestShutdownLimit: Double = 3600

    /// Seconds from the environment `variable` (fractions allowed), `fallback` when unset; an
    /// error names the variable when it is not a number of seconds above zero and at most
    /// `longestShutdownLimit` (`inf` would trap converting to a `Duration` at a role change).
    /// Kept to the nanosecond: a fraction of a millisecond must not round down to no time at all.
    static func limit(_ variable: String, default fallback: Duration, _ environment: [String: String]) throws -> Duration {
        guard let text = environment[variable] else { return fallback }
        guard let seconds = Double(text), seconds.isFinite, seconds > 0, seconds <= longestShutdownLimit else {
            throw ValidationError("\(variable) must be a number of seconds above 0 and at most \(Int(longestShutdownLimit)), not `\(text)`")
        }
        return .nanoseconds(max(1, Int64((seconds * 1e9).rounded())))
    }

    private var parts: [NodePart] = []
    let logger: Logger
    /// Whether SIGTERM and SIGINT start this lifecycle's shutdown; not for a role run inside
    /// a `node`'s election loop, whose own lifecycle passes its shutdown down.
    private let handlesSignals: Bool
    /// Yields when a part fails, which starts the role change's deadline.
    private let failures: AsyncStream<Void>
    private let partFailed: AsyncStream<Void>.Continuation

    init(logger: Logger, handlesSignals: Bool = true) {
        self.logger = logger
        self.handlesSignals = handlesSignals
        let (failures, partFailed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.failures = failures
        self.partFailed = partFailed
    }

    /// Adds a part that runs `body` until its step comes (then `body` is cancelled), and then
    /// runs `stop`.
    mutating func add(
        _ step: ShutdownStep, _ name: String, run body: @escaping @Sendable () async throws -> Void = { try await untilCancelled() },
        stop: @escaping @Sendable () async -> Void = {}
    ) {
        parts.append(
            NodePart(step: step, name: name, body: body, stop: stop, handlesGracefulShutdown: false, failed: partFailed, logger: logger))
    }

    /// Adds a Service that shuts down gracefully by itself (the HTTP server finishing its
    /// requests) when its step comes.
    mutating func add(_ step: ShutdownStep, _ name: String, service: some Service) {
        parts.append(
            NodePart(
                step: step, name: name, body: { try await service.run() }, stop: {}, handlesGracefulShutdown: true, failed: partFailed,
                logger: logger))
    }

    /// Runs every part until SIGTERM or SIGINT (when it handles them), a graceful shutdown
    /// passed down to it, or until one of them returns; then shuts them down step by step. A part
    /// that throws shuts the rest down the same way, within `roleChangeLimit`, and its error is
    /// rethrown (a lost leadership ends the role this way).
    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let gracefulShutdownLimit = try Self.gracefulShutdownLimit(environment)
        let roleChangeLimit = try Self.roleChangeLimit(environment)
        // A ServiceGroup starts its services in order and shuts them down in reverse: the last
        // step first in the list.
        let ordered = parts.sorted { $0.step.rawValue > $1.step.rawValue }
        var configuration = ServiceGroupConfiguration(
            services: ordered.map {
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup,
                    serviceName: $0.name)
            },
            gracefulShutdownSignals: handlesSignals ? [.sigterm, .sigint] : [], logger: logger)
        configuration.maximumGracefulShutdownDuration = gracefulShutdownLimit
        let group = ServiceGroup(configuration: configuration)
        let failures = self.failures
        let logger = self.logger
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Result<Void, any Error>?.self) { tasks in
            tasks.addTask {
                do {
                    try await group.run()
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            tasks.addTask {
                var failed = failures.makeAsyncIterator()
                guard await failed.next() != nil else { return nil }
                try? await Task.sleep(for: roleChangeLimit)
                if !Task.isCancelled {
                    logger.warning("the role's shutdown outlasted \(roleChangeLimit) (RIPPLE_ROLE_CHANGE_SECONDS); cancelling the rest")
                }
                return nil
            }
            // The group's outcome, once it ended by itself or was cancelled at the deadline.
            while let finished = await tasks.next() {
                tasks.cancelAll()
                if let outcome = finished { return outcome }
            }
            return .success(())
        }
        try outcome.get()
        logger.info("shutdown complete")
    }
}

/// One long-lived part of a node as a Service. Its shutdown is logged as
/// `shutdown step N/8: <step> (<name>)` when it begins and `… done` once `stop` returned, so
/// that the order can be read, and tested, from the log.
struct NodePart: Service {
    let step: ShutdownStep
    let name: String
    let body: @Sendable () async throws -> Void
    let stop: @Sendable () async -> Void
    let handlesGracefulShutdown: Bool
    /// Told when this part fails by itself.
    let failed: AsyncStream<Void>.Continuation
    let logger: Logger

    private var label: String { "shutdown step \(step.rawValue + 1)/\(ShutdownStep.allCases.count): \(step) (\(name))" }

    func run() async throws {
        let label = self.label
        let logger = self.logger
        var failure: (any Error)?
        do {
            try await withGracefulShutdownHandler {
                if handlesGracefulShutdown {
                    try await body()
                } else {
                    try await cancelWhenGracefulShutdown(body)
                }
            } onGracefulShutdown: {
                logger.info("\(label)")
            }
        } catch {
            // Stopped from outside, the error is the stop's echo (a cancelled sleep, a closed
            // channel). Failing by itself ends the node: rethrown to the node's role.
            if !(Task.isShuttingDownGracefully || Task.isCancelled) { failure = error }
        }
        await stop()
        if let failure {
            logger.info("\(name) ended: \(failure)")
            failed.yield()
            throw failure
        }
        logger.info(Task.isShuttingDownGracefully ? "\(label) done" : "\(name) ended")
    }
}

/// Suspends until cancelled, for a part that only has something to do when it stops.
func untilCancelled() async throws {
    while true { try await Task.sleep(for: .seconds(3600)) }
}
