import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

/// Kills a real writer process with SIGKILL in the middle of a stream of acknowledged
/// mutations, reopens its database, and checks that every acknowledged mutation is there and
/// no mutation is there in part.
@Suite struct CrashSafetyTests {
    static let readerApp: App = {
        var functions = FunctionRegistry()
        functions.query("pairs:all") { ctx, _ in try ctx.db.query("pairs").collect() }
        return App(schema: Schema([TableDefinition("pairs", ["seq": v.number(), "half": v.number()])]), functions: functions)
    }()

    @Test(.timeLimit(.minutes(2))) func acknowledgedMutationsSurviveSIGKILL() async throws {
        let dir = TemporaryDirectory()
        for round in 0..<3 {
            let (process, pipe) = try CrashWriter.launch(directory: dir.path, start: round * 1_000_000)
            // Read acknowledgements until a random-ish amount has arrived, then kill mid-stream.
            let target = 1_500 + round * 700
            var acknowledged = Set<Int>()
            var buffer = Data()
            let handle = pipe.fileHandleForReading
            while acknowledged.count < target {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if line.hasPrefix("ack "), let seq = Int(line.dropFirst(4)) { acknowledged.insert(seq) }
                }
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(acknowledged.count >= target, "writer stopped early in round \(round)")

            let engine = try Engine.open(path: dir.database, app: Self.readerApp)
            let rows = try await engine.query("pairs:all").value.documents
            engine.close()
            var halves: [Int: Set<Int>] = [:]
            for row in rows { halves[Int(row["seq"]!.doubleValue!), default: []].insert(Int(row["half"]!.doubleValue!)) }
            let missing = acknowledged.filter { halves[$0] != [0, 1] }
            #expect(missing.isEmpty, "acknowledged but missing or partial: \(missing.sorted().prefix(10))")
            let partial = halves.filter { $0.value != [0, 1] }
            #expect(partial.isEmpty, "partial mutations on disk: \(partial.keys.sorted().prefix(10))")
            #expect(rows.count == halves.count * 2)
        }
    }
}
