import RippleValues

/// Whether clients may call a function, or only other functions and admins.
public enum Visibility: Sendable {
    case `public`
    case `internal`
}

/// The three kinds of Convex functions.
public enum FunctionKind: String, Sendable {
    case query
    case mutation
    case action
}

/// A registered function: its path, kind, visibility, argument validators and handler.
public struct FunctionDefinition: Sendable {
    public enum Handler: Sendable {
        case query(@Sendable (QueryContext, Arguments) throws -> Value)
        case mutation(@Sendable (MutationContext, Arguments) throws -> Value)
        case action(@Sendable (ActionContext, Arguments) async throws -> Value)
    }

    public let path: String
    public let visibility: Visibility
    /// `nil` accepts any arguments object.
    public let args: [String: Validator]?
    public let handler: Handler

    public var kind: FunctionKind {
        switch handler {
        case .query: .query
        case .mutation: .mutation
        case .action: .action
        }
    }
}

/// The functions of an app, by Convex path (`"messages:getMessages"`).
public struct FunctionRegistry: Sendable {
    public private(set) var functions: [String: FunctionDefinition] = [:]
    /// Mistakes in typed definitions (argument types no validator can be derived from), found
    /// while registering and reported at start-up by `checkDefinitions()`: registering does not throw.
    var problems: [String] = []

    public init() {}

    public mutating func query<R: ValueConvertible>(
        _ path: String, visibility: Visibility = .public, args: [String: Validator]? = [:],
        _ handler: @escaping @Sendable (QueryContext, Arguments) throws -> R
    ) {
        register(FunctionDefinition(path: path, visibility: visibility, args: args, handler: .query { try handler($0, $1).convexValue }))
    }

    public mutating func mutation<R: ValueConvertible>(
        _ path: String, visibility: Visibility = .public, args: [String: Validator]? = [:],
        _ handler: @escaping @Sendable (MutationContext, Arguments) throws -> R
    ) {
        register(FunctionDefinition(path: path, visibility: visibility, args: args, handler: .mutation { try handler($0, $1).convexValue }))
    }

    public mutating func action<R: ValueConvertible>(
        _ path: String, visibility: Visibility = .public, args: [String: Validator]? = [:],
        _ handler: @escaping @Sendable (ActionContext, Arguments) async throws -> R
    ) {
        register(FunctionDefinition(path: path, visibility: visibility, args: args, handler: .action { try await handler($0, $1).convexValue }))
    }

    public mutating func internalQuery<R: ValueConvertible>(
        _ path: String, args: [String: Validator]? = [:], _ handler: @escaping @Sendable (QueryContext, Arguments) throws -> R
    ) { query(path, visibility: .internal, args: args, handler) }

    public mutating func internalMutation<R: ValueConvertible>(
        _ path: String, args: [String: Validator]? = [:], _ handler: @escaping @Sendable (MutationContext, Arguments) throws -> R
    ) { mutation(path, visibility: .internal, args: args, handler) }

    public mutating func internalAction<R: ValueConvertible>(
        _ path: String, args: [String: Validator]? = [:], _ handler: @escaping @Sendable (ActionContext, Arguments) async throws -> R
    ) { action(path, visibility: .internal, args: args, handler) }

    mutating func register(_ definition: FunctionDefinition) {
        let path = FunctionPath.canonical(definition.path)
        precondition(functions[path] == nil, "function \(path) is registered twice")
        functions[path] = FunctionDefinition(path: path, visibility: definition.visibility, args: definition.args, handler: definition.handler)
    }

    public func function(_ path: String) -> FunctionDefinition? { functions[FunctionPath.canonical(path)] }

    /// Both registries' functions; a path may be defined in only one of them.
    func merging(_ other: FunctionRegistry) -> FunctionRegistry {
        var merged = self
        for definition in other.functions.values { merged.register(definition) }
        merged.problems += other.problems
        return merged
    }
}

/// Convex function paths: `"dir/module:name"`; `"dir/module.js:name"` is the same function and
/// `"dir/module"` means `"dir/module:default"`.
public enum FunctionPath {
    public static func canonical(_ path: String) -> String {
        // Callers mostly send canonical paths already; recognise them without building strings.
        let utf8 = path.utf8
        if let colon = utf8.lastIndex(of: UInt8(ascii: ":")), !utf8[..<colon].suffix(3).elementsEqual(".js".utf8) {
            return path
        }
        var module = path
        var name = "default"
        if let colon = path.lastIndex(of: ":") {
            module = String(path[..<colon])
            name = String(path[path.index(after: colon)...])
        }
        if module.hasSuffix(".js") { module.removeLast(3) }
        return "\(module):\(name)"
    }
}
