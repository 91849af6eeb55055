import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

@Suite struct PaginationTests {
    func page(_ engine: Engine, _ cursor: Value, numItems: Int = 10, endCursor: Value? = nil, journal: String? = nil) async throws -> QueryResult {
        var opts: [String: Value] = ["numItems": .float64(Double(numItems)), "cursor": cursor]
        if let endCursor { opts["endCursor"] = endCursor }
        return try await engine.query("items:page", ["group": "g", "paginationOpts": .object(opts)], journal: journal)
    }

    @Test func pagesCoverEverythingOnceWhileDocumentsAreInsertedBetweenPages() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        _ = try await engine.mutation("items:insertMany", ["group": "g", "from": 0, "count": 95])
        var cursor: Value = .null
        var seen: [Double] = []
        var pages = 0
        while true {
            let result = try await page(engine, cursor).value
            seen += result["page"]!.documents.map { $0["n"]!.doubleValue! }
            pages += 1
            if result["isDone"] == true { break }
            cursor = result["continueCursor"]!
            // Inserts before the cursor must not shift later pages; inserts after it show up.
            _ = try await engine.mutation("items:insert", ["group": "g", "n": -1])
            _ = try await engine.mutation("items:insert", ["group": "g", "n": .float64(Double(1000 + pages))])
        }
        let originals = seen.filter { $0 >= 0 && $0 < 1000 }
        #expect(originals == (0..<95).map(Double.init))
        #expect(Set(seen).count == seen.count - seen.filter { $0 == -1 }.count + (seen.contains(-1) ? 1 : 0))
        #expect(seen.filter { $0 > 1000 }.count == pages - 1)
        #expect(!seen.contains(-1))
    }

    @Test func journalPinsThePageEndAcrossReruns() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        _ = try await engine.mutation("items:insertMany", ["group": "g", "from": 0, "count": 30])
        let first = try await page(engine, .null)
        #expect(first.value["page"]!.documents.count == 10)
        let journal = try #require(first.journal)
        #expect(first.value["continueCursor"]?.stringValue == journal)
        // A document lands inside the first page's range: the re-run grows instead of shifting.
        _ = try await engine.mutation("items:insert", ["group": "g", "n": 4.5])
        let rerun = try await page(engine, .null, journal: journal)
        #expect(rerun.value["page"]!.documents.count == 11)
        #expect(rerun.value["continueCursor"]?.stringValue == journal)
        // The second page still starts right after the first page's end.
        let second = try await page(engine, .string(journal))
        #expect(second.value["page"]!.documents.first?["n"] == 10)
        // An explicit endCursor pins the same way.
        let pinned = try await page(engine, .null, endCursor: .string(journal))
        #expect(pinned.value["page"]!.documents.count == 11)
    }

    @Test func lastPageIsDoneAndGrowsWithAppends() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        _ = try await engine.mutation("items:insertMany", ["group": "g", "from": 0, "count": 5])
        let only = try await page(engine, .null)
        #expect(only.value["isDone"] == true)
        #expect(only.value["page"]!.documents.count == 5)
        _ = try await engine.mutation("items:insert", ["group": "g", "n": 99])
        let rerun = try await page(engine, .null, journal: only.journal)
        #expect(rerun.value["page"]!.documents.count == 6)
        #expect(rerun.value["isDone"] == true)
        let after = try await page(engine, only.value["continueCursor"]!)
        #expect(after.value["page"]!.documents.isEmpty)
        #expect(after.value["isDone"] == true)
    }

    @Test func foreignCursorIsInvalidCursor() async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        await #expect { try await page(engine, "garbage!") } throws: { "\($0)".contains("InvalidCursor") }
    }
}
