/// A function's address, `dir/module:export`, in Ripple's canonical form.
///
/// Clients name one function several ways: `messages:list`, `messages.js:list` (the Rust client
/// after a reconnect), and `messages` for the default export (protocol.md §2). The canonical form
/// drops the `.js` suffix and always names the export, so subscriptions and dedup keys agree.
///
/// Accepted spellings follow Convex's `udf_path.rs`/`module_path.rs`: the module is a relative
/// path of components made of ASCII letters, digits, `_` and `.`, each with a letter or digit and
/// at most 64 bytes; the export is an identifier. Ripple is stricter in one place: the module's
/// file name may carry no extension other than `.js` (Convex would accept `a.test.js`), which
/// keeps the canonical form canonical.
public struct UdfPath: Sendable, Hashable, CustomStringConvertible {
    /// The module path without `.js`, for example `dir/messages`.
    public let module: String
    /// The export name, `default` when the client gave none.
    public let function: String

    static let maxComponentLength = 64
    /// Every call's path is kept by the node (the dashboard's execution log holds the last
    /// thousand, failed ones included), so a path's length is bounded as a whole, not only per
    /// component: a path of a million one-letter components would otherwise be kept as sent.
    static let maxPathLength = 512

    /// Parses any accepted spelling.
    public init(parsing text: String) throws(ProtocolError) {
        func fail(_ reason: String) -> ProtocolError { .invalidUdfPath(path: text, reason: reason) }

        if text.isEmpty { throw fail("the path is empty") }
        if text.utf8.count > Self.maxPathLength { throw fail("the path is longer than \(Self.maxPathLength) bytes") }
        var modulePart = Substring(text)
        var function = "default"
        if let colon = text.lastIndex(of: ":") {
            modulePart = text[..<colon]
            function = String(text[text.index(after: colon)...])
            if let reason = Self.identifierProblem(function) { throw fail(reason) }
        }
        if modulePart.isEmpty { throw fail("the module path is empty") }
        if modulePart.hasPrefix("/") { throw fail("module paths must be relative") }

        var components = modulePart.split(separator: "/", omittingEmptySubsequences: false)
        if modulePart.hasSuffix(".js") {
            components[components.count - 1] = components[components.count - 1].dropLast(3)
        }
        for (index, component) in components.enumerated() {
            let isFile = index == components.count - 1
            if let reason = Self.componentProblem(component, isFile: isFile) { throw fail(reason) }
        }
        self.module = components.joined(separator: "/")
        self.function = function
    }

    /// The canonical spelling of `text`: `"dir/module.js:fn"` → `"dir/module:fn"`, `"dir/module"` → `"dir/module:default"`.
    public static func canonical(_ text: String) throws(ProtocolError) -> String {
        try UdfPath(parsing: text).description
    }

    public var description: String { "\(module):\(function)" }

    private static func componentProblem(_ component: Substring, isFile: Bool) -> String? {
        if component.isEmpty { return "the module path has an empty component" }
        if component.utf8.count > maxComponentLength {
            return "a module path component is longer than \(maxComponentLength) characters"
        }
        var hasAlphanumeric = false
        for byte in component.utf8 {
            if isASCIIAlphanumeric(byte) {
                hasAlphanumeric = true
            } else if byte == UInt8(ascii: ".") {
                if isFile { return "the module's file name may have no extension other than `.js`" }
            } else if byte != UInt8(ascii: "_") {
                return "module path components may contain only letters, digits, `_` and `.`"
            }
        }
        if !hasAlphanumeric { return "every module path component needs a letter or digit" }
        return nil
    }

    private static func identifierProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard let first = bytes.first else { return "the function name after `:` is empty" }
        if !(isASCIILetter(first) || first == UInt8(ascii: "_")) {
            return "function names must start with a letter or `_`"
        }
        if !bytes.allSatisfy({ isASCIIAlphanumeric($0) || $0 == UInt8(ascii: "_") }) {
            return "function names may contain only letters, digits and `_`"
        }
        if bytes.count > maxComponentLength { return "the function name is longer than \(maxComponentLength) characters" }
        if bytes.allSatisfy({ $0 == UInt8(ascii: "_") }) { return "the function name cannot be only underscores" }
        return nil
    }
}

private func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
}

private func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
    isASCIILetter(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
}
