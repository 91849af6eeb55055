import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import RippleEngine
import RippleNodeTestSupport
@testable import RippleSync
import RippleValues
import Testing

/// The dashboard's API: nothing without the admin key, writes validated like function writes,
/// pages bounded, every function call in the execution log.
@Suite(.serialized) struct DashboardTests {
    static let adminHeader: HTTPFields = [.authorization: "Convex test-admin-key"]
    static let refused = #"{"code":"Unauthenticated","message":"admin key required"}"#

    /// Every dashboard endpoint, as the page calls it.
    static let endpoints: [(HTTPRequest.Method, String)] = [
        (.get, "/api/dashboard/tables"), (.get, "/api/dashboard/documents?table=counters"),
        (.post, "/api/dashboard/documents/insert"), (.post, "/api/dashboard/documents/replace"),
        (.post, "/api/dashboard/documents/delete"), (.get, "/api/dashboard/functions"), (.post, "/api/dashboard/run"),
        (.get, "/api/dashboard/logs"), (.get, "/api/dashboard/scheduling"), (.post, "/api/dashboard/jobs/cancel"),
        (.get, "/api/dashboard/node"),
    ]

    func withDashboard(_ test: @escaping @Sendable (any TestClientProtocol, Engine) async throws -> Void) async throws {
        let node = try await TestNode.start()
        do {
            try await node.server.application().test(.router) { client in try await test(client, node.engine) }
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil) async throws -> JSON {
        try await client.execute(uri: uri, method: method, headers: Self.adminHeader, body: body.map { ByteBuffer(string: $0) }) { response in
            #expect(response.status == .ok, "\(uri): \(String(buffer: response.body))")
            return try JSON.parse(String(buffer: response.body))
        }
    }

    @Test func everyEndpointRefusesWithoutTheAdminKey() async throws {
        try await withDashboard { client, _ in
            let wrong: [HTTPFields] = [
                [:], [.authorization: "Convex not-the-key"], [.authorization: "Convex "], [.authorization: "Bearer test-admin-key"],
                [.authorization: "test-admin-key"],
            ]
            for (method, uri) in Self.endpoints {
                for headers in wrong {
                    try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(string: "{}")) { response in
                        #expect(response.status == .unauthorized, "\(method) \(uri) with \(headers)")
                        #expect(String(buffer: response.body) == Self.refused)
                    }
                }
            }
        }
    }

    @Test func thePageItselfHoldsNoData() async throws {
        try await withDashboard { client, _ in
            try await client.execute(uri: "/dashboard", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                #expect(String(buffer: response.body).contains("Sign in to Ripple"))
            }
        }
    }

    @Test func writesAreValidatedAgainstTheSchemaLikeFunctionWrites() async throws {
        try await withDashboard { client, _ in
            let bad = try await call(client, .post, "/api/dashboard/documents/insert", #"{"table":"counters","fields":{"name":"a","value":"ten"}}"#)
            #expect(bad["status"]?.stringValue == "error")
            #expect(
                bad["errorMessage"]?.stringValue
                    == """
                    Uncaught Error: Failed to insert or update a document in table "counters" because it does not match the schema: \
                    Value does not match validator.
                    Path: .value
                    Value: "ten"
                    Validator: v.float64()
                    """)
            let system = try await call(client, .post, "/api/dashboard/documents/insert", #"{"table":"_cron_jobs","fields":{}}"#)
            #expect(
                system["errorMessage"]?.stringValue
                    == #"Uncaught Error: Table "_cron_jobs" is a system table: read it with ctx.db.system.query("_cron_jobs"); functions cannot write it"#)
            let tables = try await call(client, .get, "/api/dashboard/tables")
            #expect(tables.arrayValue?.first { $0["name"]?.stringValue == "counters" }?["documents"]?.serialized() == "0.0")
        }
    }

    @Test func insertReplaceDeleteAndCounts() async throws {
        try await withDashboard { client, _ in
            let inserted = try await call(client, .post, "/api/dashboard/documents/insert", #"{"table":"counters","fields":{"name":"a","value":1}}"#)
            #expect(inserted["status"]?.stringValue == "success")
            let id = try #require(inserted["value"]?.stringValue)
            let replaced = try await call(
                client, .post, "/api/dashboard/documents/replace", #"{"id":"\#(id)","fields":{"name":"a","value":42}}"#)
            #expect(replaced["status"]?.stringValue == "success")
            let page = try await call(client, .get, "/api/dashboard/documents?table=counters")
            #expect(page["page"]?.arrayValue?.first?["value"]?.serialized() == "42.0")
            var tables = try await call(client, .get, "/api/dashboard/tables")
            #expect(tables.arrayValue?.first { $0["name"]?.stringValue == "counters" }?["documents"]?.serialized() == "1.0")
            let deleted = try await call(client, .post, "/api/dashboard/documents/delete", #"{"id":"\#(id)"}"#)
            #expect(deleted["status"]?.stringValue == "success")
            tables = try await call(client, .get, "/api/dashboard/tables")
            #expect(tables.arrayValue?.first { $0["name"]?.stringValue == "counters" }?["documents"]?.serialized() == "0.0")
            let again = try await call(client, .post, "/api/dashboard/documents/delete", #"{"id":"\#(id)"}"#)
            #expect(again["errorMessage"]?.stringValue == "Uncaught Error: Update on nonexistent document ID \(id)")
        }
    }

    @Test func documentsComeNewestFirstPagedAndFilteredThroughAnIndex() async throws {
        try await withDashboard { client, _ in
            for (name, value) in [("a", 1), ("b", 2), ("c", 3)] {
                _ = try await call(client, .post, "/api/dashboard/documents/insert", #"{"table":"counters","fields":{"name":"\#(name)","value":\#(value)}}"#)
            }
            let first = try await call(client, .get, "/api/dashboard/documents?table=counters&pageSize=2")
            #expect(first["page"]?.arrayValue?.map { $0["name"]?.stringValue } == ["c", "b"])
            #expect(first["isDone"] == .bool(false))
            #expect(first["index"]?.stringValue == "by_creation_time")
            let cursor = try #require(first["continueCursor"]?.stringValue)
            let encoded = cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? cursor
            let second = try await call(client, .get, "/api/dashboard/documents?table=counters&pageSize=2&cursor=\(encoded)")
            #expect(second["page"]?.arrayValue?.map { $0["name"]?.stringValue } == ["a"])
            let byName = try await call(client, .get, "/api/dashboard/documents?table=counters&field=name&value=b")
            #expect(byName["page"]?.arrayValue?.map { $0["name"]?.stringValue } == ["b"])
            #expect(byName["index"]?.stringValue == "by_name")
            #expect(byName["filteredScan"] == .bool(false))
            let byValue = try await call(client, .get, "/api/dashboard/documents?table=counters&field=value&value=3")
            #expect(byValue["page"]?.arrayValue?.map { $0["name"]?.stringValue } == ["c"])
            #expect(byValue["filteredScan"] == .bool(true))
            try await client.execute(uri: "/api/dashboard/documents?table=counters&pageSize=101", method: .get, headers: Self.adminHeader) {
                #expect(String(buffer: $0.body).contains("pageSize must be 1...100, got 101"))
            }
        }
    }

    @Test func runningAFunctionShowsInTheLog() async throws {
        try await withDashboard { client, _ in
            let start = try await call(client, .get, "/api/dashboard/logs")
            let cursor = try #require(start["cursor"]?.stringValue)
            let ran = try await call(client, .post, "/api/dashboard/run", #"{"path":"diagnostics:echo","args":{"value":7}}"#)
            #expect(ran["status"]?.stringValue == "success")
            #expect(ran["value"]?.serialized() == "7.0")
            let failed = try await call(client, .post, "/api/dashboard/run", #"{"path":"diagnostics:throwError","args":{"message":"boom"}}"#)
            #expect(failed["status"]?.stringValue == "error")
            let logs = try await call(client, .get, "/api/dashboard/logs?after=\(cursor)")
            let entries = logs["entries"]?.arrayValue ?? []
            #expect(entries.map { $0["path"]?.stringValue } == ["diagnostics:echo", "diagnostics:throwError"])
            #expect(entries.map { $0["outcome"]?.stringValue } == ["success", "failure"])
            #expect(entries.last?["error"]?.stringValue == failed["errorMessage"]?.stringValue)
            let acting = try await call(
                client, .post, "/api/dashboard/run", #"{"path":"diagnostics:whoami","actingAs":{"subject":"u1","issuer":"dashboard"}}"#)
            #expect(acting["value"]?["subject"]?.stringValue == "u1")
        }
    }

    @Test func pendingJobsAreListedAndCanceled() async throws {
        try await withDashboard { client, _ in
            let scheduled = try await call(
                client, .post, "/api/dashboard/run",
                #"{"path":"diagnostics:scheduleRuns","args":{"prefix":"later","count":1,"delayMs":3600000,"kind":"mutation"}}"#)
            let id = try #require(scheduled["value"]?.arrayValue?.first?.stringValue, "\(scheduled)")
            var scheduling = try await call(client, .get, "/api/dashboard/scheduling")
            #expect(scheduling["jobs"]?["pending"]?.arrayValue?.map { $0["_id"]?.stringValue } == [id])
            let canceled = try await call(client, .post, "/api/dashboard/jobs/cancel", #"{"id":"\#(id)"}"#)
            #expect(canceled["status"]?.stringValue == "success")
            scheduling = try await call(client, .get, "/api/dashboard/scheduling")
            #expect(scheduling["jobs"]?["pending"]?.arrayValue?.isEmpty == true)
            #expect(scheduling["jobs"]?["canceled"]?.arrayValue?.map { $0["_id"]?.stringValue } == [id])
        }
    }

    @Test func theExecutionLogKeepsTheNewestEntries() {
        let log = ExecutionLog(capacity: 3)
        for n in 1...5 { log.record(path: "f:\(n)", kind: .query, started: .now, error: nil) }
        #expect(log.entries(after: 0, limit: 10).map(\.path) == ["f:3", "f:4", "f:5"])
        #expect(log.entries(after: 4, limit: 10).map(\.sequence) == [5])
        #expect(log.entries(after: 0, limit: 2).map(\.sequence) == [3, 4])
    }
}
