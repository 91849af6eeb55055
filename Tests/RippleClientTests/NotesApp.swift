import RippleClient
import RippleEngine
import RippleValues

/// A small app the client tests run against: notes in one table. Declared here rather than
/// borrowed from the chat example, so these tests exercise the client, not the example's rules.
enum NotesApp {
    static let app: App = {
        var functions = FunctionRegistry()
        functions.query("notes:list") { ctx, _ in try ctx.db.query("notes").collect() }
        functions.mutation("notes:add", args: ["body": v.string()]) { ctx, args in
            try ctx.db.insert("notes", ["body": .string(try args.string("body"))])
        }
        // Always refuses, with data the client must hand back untouched.
        functions.mutation("notes:refuse", args: ["body": v.string()]) { _, args -> Value in
            throw ConvexError(.object(["refused": .string(try args.string("body"))]))
        }
        functions.query("notes:whoami") { ctx, _ in ctx.auth.getUserIdentity()?.value ?? .null }
        functions.action("notes:shout", args: ["body": v.string()]) { _, args in
            try args.string("body").uppercased()
        }
        return App(schema: Schema([TableDefinition("notes", ["body": v.string()])]), functions: functions)
    }()
}

/// A note as the client reads it.
struct Note: Codable, Sendable, Equatable {
    var _id: String
    var body: String
}

struct NewNote: Codable, Sendable {
    var body: String
}

/// The test app's functions, typed the way an app would declare them.
enum Notes {
    static let list = QueryReference<NoArguments, [Note]>("notes:list")
    static let add = MutationReference<NewNote, String>("notes:add")
    static let refuse = MutationReference<NewNote, Nothing>("notes:refuse")
    static let shout = ActionReference<NewNote, String>("notes:shout")
    static let whoami = QueryReference<NoArguments, Caller?>("notes:whoami")
}

/// The part of the caller's identity the auth tests look at.
struct Caller: Codable, Sendable, Equatable {
    var subject: String
}
