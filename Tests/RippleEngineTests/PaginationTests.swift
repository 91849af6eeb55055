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

    /// Client numbers reach `paginate` unchecked: each bad one is refused by name, never trapped on.
    @Test(arguments: [
        (Value.float64(1e300), "PageSizeTooLarge: Requested too many items: 1e+300 (a page holds at most 32000)"),
        (.float64(.infinity), "PageSizeTooLarge: Requested too many items: Infinity (a page holds at most 32000)"),
        (.float64(32_001), "PageSizeTooLarge: Requested too many items: 32001 (a page holds at most 32000)"),
        (.float64(.nan), "`options.numItems` must be a positive number. Received `NaN`."),
        (.float64(-.infinity), "`options.numItems` must be a positive number. Received `-Infinity`."),
        (.float64(-5), "`options.numItems` must be a positive number. Received `-5`."),
        (.string("10"), "`options.numItems` must be a positive number. Received `\"10\"`."),
        (.float64(2.5), "`options.numItems` must be a whole number. Received `2.5`."),
        (.float64(0), "NoDocumentsForPagination: Must request at least 1 document while paginating"),
    ])
    func hostileNumItemsIsRefused(numItems: Value, message: String) async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        let options: Value = ["numItems": numItems, "cursor": .null]
        await #expect { try await engine.query("items:page", ["group": "g", "paginationOpts": options]) } throws: {
            ($0 as? FunctionError)?.message == "Uncaught Error: " + message
        }
        // The node is intact: a sane page still works.
        #expect(try await page(engine, .null).value["isDone"] == true)
    }

    @Test(arguments: [Value.float64(.nan), .float64(0), .float64(-1), .float64(1e300), .float64(0.5)])
    func hostileMaximumRowsReadIsRefusedOrBounded(rows: Value) async throws {
        let dir = TemporaryDirectory()
        let engine = try openItemsEngine(dir)
        defer { engine.close() }
        _ = try await engine.mutation("items:insertMany", ["group": "g", "from": 0, "count": 5])
        let options: Value = ["numItems": 10, "cursor": .null, "maximumRowsRead": rows]
        let call = { try await engine.query("items:page", ["group": "g", "paginationOpts": options]) }
        if rows == .float64(1e300) {
            #expect(try await call().value["page"]!.documents.count == 5)
        } else {
            await #expect { try await call() } throws: {
                ($0 as? FunctionError)?.message
                    == "Uncaught Error: InvalidPaginationLimit: `options.maximumRowsRead` must be a whole number greater than 0. Received `\(rows)`."
            }
        }
    }
}
