import Testing

@testable import RippleValues

@Suite struct ValueLimitsTests {
    static func nested(_ levels: Int) -> Value {
        var value: Value = ["leaf": true]
        for i in 1..<levels { value = i.isMultiple(of: 2) ? ["x": value] : [value] }
        return value
    }

    @Test func acceptsOrdinaryDocuments() throws {
        try DocumentLimits().check(["name": "ann", "tags": ["a", "b"], "n": 1, "bin": .bytes([1])], table: "users")
    }

    @Test func nestingLimit() throws {
        try DocumentLimits().check(Self.nested(16), table: "t")
        let error = #expect(throws: ValueError.self) { try DocumentLimits().check(["a": Self.nested(16)], table: "t") }
        #expect(error?.message == "Document in table \"t\" is nested too deeply (limit 16 levels)")
        var limits = DocumentLimits()
        limits.maxNesting = 2
        try limits.check(["a": [1]], table: "t")
        #expect(throws: ValueError(#"Document in table "t" is nested too deeply (limit 2 levels)"#)) { try limits.check(["a": [[1]]], table: "t") }
    }

    @Test func arrayElementLimit() throws {
        try DocumentLimits().check(["a": .array(Array(repeating: .null, count: 8192))], table: "t")
        let error = #expect(throws: ValueError.self) {
            try DocumentLimits().check(["a": .array(Array(repeating: .null, count: 8193))], table: "t")
        }
        #expect(error?.message == "Array in a document of table \"t\" has too many elements (8193, limit 8192)")
    }

    @Test func fieldLimitIsPerObject() throws {
        func object(_ n: Int) -> Value { .object(Dictionary(uniqueKeysWithValues: (0..<n).map { ("f\($0)", Value.null) })) }
        try DocumentLimits().check(object(1024), table: "t")
        // Two objects of 600 fields: over 1,024 in total, but each within the limit, as in Convex.
        try DocumentLimits().check(["a": object(600), "b": object(600)], table: "t")
        let top = #expect(throws: ValueError.self) { try DocumentLimits().check(object(1025), table: "t") }
        #expect(top?.message == "Document in table \"t\" has too many fields (1025, limit 1024)")
        let inner = #expect(throws: ValueError.self) { try DocumentLimits().check(["a": [object(1025)]], table: "t") }
        #expect(inner?.message == "Object in a document of table \"t\" has too many fields (1025, limit 1024)")
    }

    @Test func sizeLimit() throws {
        let big = String(repeating: "x", count: 1 << 20)
        let error = #expect(throws: ValueError.self) { try DocumentLimits().check(["body": .string(big)], table: "posts") }
        #expect(error?.message.contains("Document in table \"posts\" is too large") == true)
        #expect(error?.message.contains("limit 1048576 bytes") == true)
        try DocumentLimits().check(["body": .string(String(repeating: "x", count: (1 << 20) - 100))], table: "posts")
        var limits = DocumentLimits()
        limits.maxSizeBytes = 10
        #expect(throws: ValueError.self) { try limits.check(["a": "123456"], table: "t") }
        try limits.check(["a": "1"], table: "t")
    }

    @Test func approximateSize() {
        #expect(Value.null.approximateSize == 1)
        #expect(Value.int64(1).approximateSize == 9)
        #expect(Value.float64(1).approximateSize == 9)
        #expect(Value.string("héllo").approximateSize == 8)
        #expect(Value.bytes([1, 2]).approximateSize == 4)
        #expect(Value.array([.null, true]).approximateSize == 4)
        #expect(Value.object(["ab": .null]).approximateSize == 6)
    }

    @Test(arguments: ["a", "_id", "_creationTime", "with space", "~!@#%^&*()", "A-b.c", "a$", String(repeating: "k", count: 1024)])
    func acceptsFieldNames(name: String) throws {
        try FieldName.validate(name, path: "")
    }

    @Test(arguments: [
        ("", "Empty field name in object at path .x"),
        ("$a", "Field name `$a` at path .x starts with `$`, which is reserved"),
        ("a\u{1}", "must contain only printable ASCII characters"),
        ("a\u{7F}", "must contain only printable ASCII characters"),
        ("é", "must contain only printable ASCII characters"),
        (String(repeating: "k", count: 1025), "Field name at path .x is longer than 1024 characters"),
    ])
    func rejectsFieldNames(name: String, message: String) {
        let error = #expect(throws: ValueError.self) { try FieldName.validate(name, path: ".x") }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
    }

    @Test func topLevelFieldNames() throws {
        for name in ["a", "a_1", "camelCase", "Z9", String(repeating: "a", count: 64)] {
            try FieldName.validateTopLevel(name)
        }
        let reserved = #expect(throws: ValueError.self) { try FieldName.validateTopLevel("_id") }
        #expect(reserved?.message == "Field name `_id` starts with `_`, which is reserved for system fields")
        for name in ["1a", "a-b", "a b", "é", "$a"] {
            let error = #expect(throws: ValueError.self) { try FieldName.validateTopLevel(name) }
            #expect(error?.message.contains("must be an identifier") == true, "\(name)")
        }
        for name in ["", String(repeating: "a", count: 65)] {
            let error = #expect(throws: ValueError.self) { try FieldName.validateTopLevel(name) }
            #expect(error?.message.contains("must be 1 to 64 characters") == true, "\(name)")
        }
    }
}
