import Foundation
import RippleEngine
import RippleValues
import Testing

/// Writes pairs of documents, one pair per mutation, from several concurrent callers, and
/// prints `ack SEQ` once each mutation has returned (i.e. is durable). The crash test kills it
/// with SIGKILL mid-stream and checks that every acknowledged pair is complete on disk and no
/// half pair exists.
///
/// It runs in a process of its own, so that SIGKILL finds it mid-write: this test binary started
/// again with only `CrashWriterProcess` enabled. A test target must not depend on an executable,
/// and the test binary is the one executable that is always built with the tests.
struct CrashWriter {
    let directory: String
    /// The first sequence number, so that several runs on one database never repeat one.
    let start: Int

    static let app: App = {
        var functions = FunctionRegistry()
        functions.mutation("pairs:write", args: ["seq": v.number()]) { ctx, args in
            let seq = try args.double("seq")
            try ctx.db.insert("pairs", ["seq": .float64(seq), "half": 0])
            try ctx.db.insert("pairs", ["seq": .float64(seq), "half": 1])
            return Value.null
        }
        return App(schema: Schema([TableDefinition("pairs", ["seq": v.number(), "half": v.number()])]), functions: functions)
    }()

    /// Starts this test binary again as a writer on `directory`, its standard output piped back.
    static func launch(directory: String, start: Int) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["--testing-library", "swift-testing", "--filter", "CrashWriterProcess"]
        var environment = ProcessInfo.processInfo.environment
        environment[CrashWriterProcess.directoryVariable] = directory
        environment[CrashWriterProcess.startVariable] = String(start)
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        // The test runner's own report of the child would interleave with the parent's.
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, pipe)
    }

    func run() async throws {
        let engine = try Engine.open(path: directory + "/ripple.sqlite3", app: Self.app)
        FileHandle.standardOutput.write("ready\n".data(using: .utf8)!)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<8 {
                group.addTask {
                    var seq = start + caller
                    while true {
                        _ = try await engine.mutation("pairs:write", ["seq": .float64(Double(seq))])
                        FileHandle.standardOutput.write("ack \(seq)\n".data(using: .utf8)!)
                        seq += 8
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// The writer process's only test: enabled only in the process `CrashWriter.launch` starts,
/// where it writes until killed.
@Suite struct CrashWriterProcess {
    static let directoryVariable = "RIPPLE_CRASH_WRITER_DIRECTORY"
    static let startVariable = "RIPPLE_CRASH_WRITER_START"

    @Test(.enabled(if: ProcessInfo.processInfo.environment[directoryVariable] != nil, "runs only as the crash test's writer process"))
    func writeUntilKilled() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = try #require(environment[Self.directoryVariable])
        try await CrashWriter(directory: directory, start: Int(environment[Self.startVariable] ?? "") ?? 0).run()
    }
}
