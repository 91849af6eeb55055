import Foundation
import RippleEngine
import RippleTestSupport
import RippleValues
import Testing

/// Arguments are held to Convex's value limits before any function runs, validators or not.
@Suite struct ArgumentLimitsTests {
    static func nested(_ levels: Int) -> Value {
        var value: Value = 1
        for _ in 0..<levels { value = [value] }
        return value
    }

    /// An engine whose `args:echo` takes anything as `x`.
    func openEngine(_ dir: TemporaryDirectory) throws -> Engine {
        var functions = itemsFunctions()
        functions.query("args:echo", args: ["x": v.any()]) { _, args in args["x"]! }
        return try Engine.open(path: dir.database, app: App(schema: itemsSchema, functions: functions))
    }

    func refusal(_ engine: Engine, _ args: [String: Value]) async -> String? {
        do {
            _ = try await engine.query("args:echo", args)
            return nil
        } catch {
            return error.kind == .invalidArguments ? error.message : "wrong kind: \(error)"
        }
    }

    @Test func limitsAtTheEdgeAreAcceptedAndOneBeyondRefused() async throws {
        let dir = TemporaryDirectory()
        let engine = try openEngine(dir)
        defer { engine.close() }
        // The arguments object is level 1, so 63 arrays inside it reach the limit of 64.
        let deepest = await refusal(engine, ["x": Self.nested(63)])
        #expect(deepest == nil, "\(deepest ?? "")")
        #expect(
            await refusal(engine, ["x": Self.nested(64)])
                == "ArgumentValidationError: Arguments of args:echo are nested too deeply (limit 64 levels)")
        let longest = await refusal(engine, ["x": .array(Array(repeating: 0, count: 8192))])
        #expect(longest == nil, "\(longest ?? "")")
        #expect(
            await refusal(engine, ["x": .array(Array(repeating: 0, count: 8193))])
                == "ArgumentValidationError: An array in the arguments of args:echo has too many elements (8193, limit 8192)")
        let wide = Dictionary(uniqueKeysWithValues: (0..<1025).map { ("f\($0)", Value.null) })
        #expect(
            await refusal(engine, ["x": .object(wide)])
                == "ArgumentValidationError: An object in the arguments of args:echo has too many fields (1025, limit 1024)")
        await #expect(throws: FunctionError.self) {
            try await engine.mutation("items:patch", ["id": "x", "fields": Self.nested(70)])
        }
    }
}
