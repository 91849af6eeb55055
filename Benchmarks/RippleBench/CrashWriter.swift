import Foundation
import RippleEngine
import RippleValues

/// Writes pairs of documents, one pair per mutation, from several concurrent callers, and
/// prints `ack SEQ` once each mutation has returned (i.e. is durable). The crash test kills it
/// with SIGKILL mid-stream and checks that every acknowledged pair is complete on disk and no
/// half pair exists.
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
