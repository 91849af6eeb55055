import ArgumentParser
import Foundation
import Logging

/// The command line of a Ripple app executable (`chat dev`, later `chat writer|replica|scheduler`).
public enum RippleMain {
    /// Parses the process arguments and runs the chosen role with `app`.
    public static func run(_ app: App) async {
        do {
            var command = try RippleCommand.parseAsRoot()
            if let dev = command as? DevCommand {
                try await dev.run(app: app)
            } else {
                try command.run()
            }
        } catch {
            RippleCommand.exit(withError: error)
        }
    }
}

struct RippleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "ripple",
        abstract: "A Ripple node: a reactive backend that the Convex clients talk to.",
        subcommands: [DevCommand.self]
    )
}

/// `dev`: every role in one process on one SQLite file, for development and tests.
struct DevCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Run a single-node development server.")

    @Option(name: .long, help: "Directory for the database (env RIPPLE_DATA).")
    var data: String = ProcessInfo.processInfo.environment["RIPPLE_DATA"] ?? ".ripple"

    @Option(name: .long, help: "Address to serve clients on, host:port (env RIPPLE_LISTEN).")
    var listen: String = ProcessInfo.processInfo.environment["RIPPLE_LISTEN"] ?? "127.0.0.1:3210"

    func run() throws {
        throw ValidationError("dev needs an app; run it through RippleMain.run(app)")
    }

    func run(app: App) async throws {
        var logger = Logger(label: "ripple.dev")
        logger.logLevel = .info
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let path = URL(fileURLWithPath: data).appendingPathComponent("ripple.sqlite3").path
        var options = EngineOptions()
        options.logger = logger
        let engine = try Engine.open(path: path, app: app, options: options)
        logger.info("Ripple dev node: engine open on \(path) with \(app.functions.functions.count) functions")
        print("Ripple dev node ready: database \(path); client API on \(listen) arrives with the sync server (issue 3)")
        await waitForTermination()
        engine.close()
        logger.info("Ripple dev node stopped")
    }
}

/// Suspends until SIGINT or SIGTERM.
func waitForTermination() async {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let queue = DispatchQueue(label: "ripple-signals")
        let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
        let resumed = ResumeOnce(continuation)
        for source in sources {
            source.setEventHandler { resumed.resume() }
            source.resume()
        }
        withExtendedLifetime(sources) {}
        SignalSources.keep(sources)
    }
}

/// Keeps signal sources alive for the life of the process.
enum SignalSources {
    nonisolated(unsafe) static var retained: [any DispatchSourceSignal] = []
    static func keep(_ sources: [any DispatchSourceSignal]) { retained.append(contentsOf: sources) }
}

final class ResumeOnce: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func resume() {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume()
    }
}
