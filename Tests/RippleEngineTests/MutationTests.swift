import Foundation
import RippleEngine
import RippleLog
import RippleTestSupport
import RippleValues
import Testing

@Suite struct MutationTests {
    @Test func insertedDocumentsHaveSystemFields() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let result = try await engine.mutation("items:insert", ["group": "a", "n": 1])
        let id = try #require(result.value.stringValue)
        #expect(DocumentID(id) != nil)
        let doc = try #require(try await engine.query("items:get", ["id": .string(id)]).value.objectValue)
        #expect(doc["_id"] == .string(id))
        #expect(doc["group"] == "a")
        let creation = try #require(doc["_creationTime"]?.doubleValue)
        #expect(abs(creation - result.ts.milliseconds) < 0.001)
    }

    @Test func thrownErrorRollsBackEveryWriteAndKeepsConvexErrorData() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        await #expect {
            try await engine.mutation("items:insertThenFail", ["group": "rolled"])
        } throws: { error in
            let error = error as! FunctionError
            return error.kind == .thrown && error.data == ["code": "boom", "count": .int64(7)]
        }
        let after = try await engine.query("items:byGroup", ["group": "rolled"])
        #expect(after.value.documents.isEmpty)
        // The log holds nothing of it either: the next mutation still works and is alone.
        _ = try await engine.mutation("items:insert", ["group": "rolled", "n": 2])
        #expect(try await engine.query("items:byGroup", ["group": "rolled"]).value.documents.count == 1)
    }

    @Test func mutationSeesItsOwnWrites() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let value = try await engine.mutation("items:insertAndReadBack", ["group": "own"]).value
        #expect(value["get"]?["tag"] == "patched")
        #expect(value["count"] == 1)
    }

    @Test func patchReplaceDelete() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let id = try await engine.mutation("items:insert", ["group": "p", "n": 1, "tag": "x"]).value
        _ = try await engine.mutation("items:patch", ["id": id, "fields": ["n": 5, "tag": .null]])
        var doc = try await engine.query("items:get", ["id": id]).value
        #expect(doc["n"] == 5)
        #expect(doc["tag"] == nil)
        #expect(doc["group"] == "p")
        _ = try await engine.mutation("items:replace", ["id": id, "fields": ["group": "q", "n": 9]])
        doc = try await engine.query("items:get", ["id": id]).value
        #expect(doc["group"] == "q")
        #expect(doc["_id"] == id)
        #expect(try await engine.query("items:byGroup", ["group": "p"]).value.documents.isEmpty)
        #expect(try await engine.query("items:byGroup", ["group": "q"]).value.documents.count == 1)
        _ = try await engine.mutation("items:delete", ["id": id])
        #expect(try await engine.query("items:get", ["id": id]).value == .null)
        #expect(try await engine.query("items:byGroup", ["group": "q"]).value.documents.isEmpty)
        await #expect(throws: FunctionError.self) { try await engine.mutation("items:delete", ["id": id]) }
    }

    @Test func schemaViolationsNameTableFieldAndExpectation() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let id = try await engine.mutation("items:insert", ["group": "s", "n": 1]).value
        func message(_ body: () async throws -> Void) async -> String {
            do {
                try await body()
                return "no error"
            } catch { return "\(error)" }
        }
        let patch = await message { _ = try await engine.mutation("items:patch", ["id": id, "fields": ["n": "seven"]]) }
        #expect(patch.contains("table \"items\""))
        #expect(patch.contains("Path: .n"))
        #expect(patch.contains("v.float64()"))
        let extra = await message { _ = try await engine.mutation("items:patch", ["id": id, "fields": ["color": "red"]]) }
        #expect(extra.contains("table \"items\"") && extra.contains("extra field `color`"))
        let replace = await message { _ = try await engine.mutation("items:replace", ["id": id, "fields": ["group": "s"]]) }
        #expect(replace.contains("table \"items\"") && replace.contains("missing the required field `n`"))
        let system = await message { _ = try await engine.mutation("items:patch", ["id": id, "fields": ["_secret": 1]]) }
        #expect(system.contains("_secret"))
    }

    @Test func argumentValidationNamesFunctionPathAndExpectation() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        do {
            _ = try await engine.mutation("items:insert", ["group": "a", "n": .int64(3)])
            Issue.record("expected a validation error")
        } catch {
            #expect(error.kind == .invalidArguments)
            #expect(error.message.contains("items:insert"))
            #expect(error.message.contains("Path: .n"))
            #expect(error.message.contains("v.float64()"))
        }
        do {
            _ = try await engine.mutation("items:insert", ["group": "a"])
            Issue.record("expected a validation error")
        } catch {
            #expect(error.message.contains("missing the required field `n`"))
        }
    }

    @Test func unknownAndInternalFunctionsAreRefusedToClients() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        await #expect { try await engine.query("items:nope") } throws: { ($0 as! FunctionError).kind == .unknownFunction }
        await #expect { try await engine.query("items:secret") } throws: { ($0 as! FunctionError).kind == .unknownFunction }
        #expect(try await engine.query("items:secret", identity: .admin(actingAs: nil)).value == "secret")
        #expect(try await engine.query("items.js:secret", caller: .server).value == "secret")
        // An action may call internal functions.
        #expect(try await engine.action("items:viaAction", ["group": "act"]) == "secret")
        #expect(try await engine.query("items:byGroup", ["group": "act"]).value.documents.count == 1)
        await #expect { try await engine.mutation("items:byGroup", ["group": "a"]) } throws: {
            ($0 as! FunctionError).message.contains("defined as query")
        }
    }

    @Test func concurrentMutationsAllCommitWithDistinctIncreasingTimestamps() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let timestamps = try await withThrowingTaskGroup(of: CommitTimestamp.self) { group in
            for i in 0..<200 {
                group.addTask { try await engine.mutation("items:insert", ["group": "c", "n": .float64(Double(i))]).ts }
            }
            return try await group.reduce(into: [CommitTimestamp]()) { $0.append($1) }
        }
        #expect(Set(timestamps).count == 200)
        let docs = try await engine.query("items:byGroup", ["group": "c"]).value.documents
        #expect(docs.count == 200)
        #expect(try await engine.query("items:byGroup", ["group": "c"]).ts == timestamps.max())
    }

    @Test func documentLimitsAreEnforced() async throws {
        let dir = TemporaryDirectory()
        var options = EngineOptions()
        options.limits.maxDocumentsWritten = 10
        let engine = try openItemsEngine(dir, options: options)
        defer { engine.close() }
        await #expect {
            try await engine.mutation("items:insertMany", ["group": "big", "from": 0, "count": 11])
        } throws: { ($0 as! FunctionError).message.contains("Too many documents written") }
        #expect(try await engine.query("items:byGroup", ["group": "big"]).value.documents.isEmpty)
    }
}
