import Foundation
import RippleEngine
import RippleStorage
import RippleTestSupport
import RippleValues
import Testing

/// A failure inside the node (SQLite) reaches clients as Convex's generic error with a request id;
/// its text, which quotes SQL, goes only to the log.
@Suite struct ServerErrorTests {
    @Test func sqliteFailureIsAGenericErrorWithARequestID() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        _ = try await engine.mutation("items:insert", ["group": "g", "n": 1])
        try Database(path: dir.database).execute("DROP TABLE index_entries")
        await #expect {
            try await engine.query("items:byGroup", ["group": "g"])
        } throws: { error in
            guard let error = error as? FunctionError else { return false }
            return error.kind == .unavailable && error.message.wholeMatch(of: /\[Request ID: [0-9a-f]{1,16}\] Server Error/) != nil
        }
    }
}
