import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The steps of a node's shutdown, in the order they run: the one place that order is stated.
/// SIGTERM or SIGINT starts it, and so does a part that returns by itself; each step finishes
/// before the next begins. A part that fails (a lost leadership, a replication link given up)
/// cancels the others at once instead: a writer that is no longer the writer stops serving now.
enum ShutdownStep: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Stop accepting clients and finish the requests in flight (a replica's forwarded
    /// mutations among them).
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
    static var gracefulShutdownLimit: Duration {
        let text = ProcessInfo.processInfo.environment["RIPPLE_SHUTDOWN_SECONDS"] ?? ""
        guard let seconds = Double(text), seconds > 0 else { return .seconds(30) }
        return .milliseconds(Int64(seconds * 1000))
    }

    private var parts: [NodePart] = []
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// Adds a part that runs `body` until its step comes (then `body` is cancelled), and then
    /// runs `stop`.
    mutating func add(
        _ step: ShutdownStep, _ name: String, run body: @escaping @Sendable () async throws -> Void = { try await untilCancelled() },
        stop: @escaping @Sendable () async -> Void = {}
    ) {
        parts.append(NodePart(step: step, name: name, body: body, stop: stop, handlesGracefulShutdown: false, logger: logger))
    }

    /// Adds a Service that shuts down gracefully by itself (the HTTP server finishing its
    /// requests) when its step comes.
    mutating func add(_ step: ShutdownStep, _ name: String, service: some Service) {
        parts.append(NodePart(step: step, name: name, body: { try await service.run() }, stop: {}, handlesGracefulShutdown: true, logger: logger))
    }

    /// Runs every part until SIGTERM or SIGINT, or until one of them returns; then shuts them
    /// down step by step. A part that throws cancels the rest, and its error is rethrown (a lost
    /// leadership ends the role this way).
    func run() async throws {
        // A ServiceGroup starts its services in order and shuts them down in reverse: the last
        // step first in the list.
        let ordered = parts.sorted { $0.step.rawValue > $1.step.rawValue }
        var configuration = ServiceGroupConfiguration(
            services: ordered.map {
                ServiceGroupConfiguration.ServiceConfiguration(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .cancelGroup,
                    serviceName: $0.name)
            },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = Self.gracefulShutdownLimit
        try await ServiceGroup(configuration: configuration).run()
        logger.info("shutdown complete")
    }
}

/// One long-lived part of a node as a Service. Its shutdown is logged as
/// `shutdown step N/7: <step> (<name>)` when it begins and `… done` once `stop` returned, so
/// that the order can be read, and tested, from the log.
struct NodePart: Service {
    let step: ShutdownStep
    let name: String
    let body: @Sendable () async throws -> Void
    let stop: @Sendable () async -> Void
    let handlesGracefulShutdown: Bool
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
            throw failure
        }
        logger.info(Task.isShuttingDownGracefully ? "\(label) done" : "\(name) ended")
    }
}

/// Suspends until cancelled, for a part that only has something to do when it stops.
func untilCancelled() async throws {
    while true { try await Task.sleep(for: .seconds(3600)) }
}
