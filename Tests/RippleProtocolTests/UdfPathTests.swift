import Testing

@testable import RippleProtocol

@Suite struct UdfPathTests {
    @Test func canonicalForms() throws {
        #expect(try UdfPath.canonical("dir/module.js:fn") == "dir/module:fn")
        #expect(try UdfPath.canonical("dir/module:fn") == "dir/module:fn")
        #expect(try UdfPath.canonical("dir/module") == "dir/module:default")
        #expect(try UdfPath.canonical("dir/module.js") == "dir/module:default")
        #expect(try UdfPath.canonical("messages:list") == "messages:list")
        #expect(try UdfPath.canonical("_system/frontend/x:y") == "_system/frontend/x:y")
        #expect(try UdfPath.canonical("v1.2/mod_3:_private") == "v1.2/mod_3:_private")
        let path = try UdfPath(parsing: "a/b.js:c")
        #expect(path.module == "a/b")
        #expect(path.function == "c")
        #expect(path == (try UdfPath(parsing: "a/b:c")))
    }

    @Test func canonicalIsIdempotent() throws {
        for text in ["a", "a.js", "a/b.js:c", "x/y/z:default", "q_1:f2"] {
            let once = try UdfPath.canonical(text)
            #expect(try UdfPath.canonical(once) == once)
        }
    }

    @Test func rejectsGarbage() throws {
        let garbage = [
            "", ":", ":fn", "mod:", "/mod:fn", "mod/:fn", "a//b:fn", "./a:fn", "a/../b:fn", "a/./b", "..", "mod.ts:fn", "mod.js.js:fn",
            ".js", "a/.js:f", "a:b:c", "a:9lives", "a:f.g", "a:__", "a b:f", "é:f", "a\u{0}:f", "mod:fn ", String(repeating: "m", count: 65) + ":f",
            "m:" + String(repeating: "f", count: 65), "___:f",
        ]
        for text in garbage {
            #expect(throws: ProtocolError.self, "\(text.debugDescription)") { try UdfPath.canonical(text) }
        }
        #expect(throws: ProtocolError.invalidUdfPath(path: "", reason: "the path is empty")) { try UdfPath.canonical("") }
        #expect(throws: ProtocolError.invalidUdfPath(path: "/a:f", reason: "module paths must be relative")) { try UdfPath.canonical("/a:f") }
        // Every component is short; the whole is not.
        let deep = Array(repeating: "a", count: 300).joined(separator: "/") + ":f"
        #expect(throws: ProtocolError.invalidUdfPath(path: deep, reason: "the path is longer than 512 bytes")) { try UdfPath.canonical(deep) }
        let deepest = Array(repeating: "a", count: 255).joined(separator: "/") + ":f"
        #expect(try UdfPath.canonical(deepest) == deepest)
    }
}
