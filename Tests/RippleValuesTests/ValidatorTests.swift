import Testing

@testable import RippleValues

@Suite struct ValidatorTests {
    static let users = DocumentID(tableNumber: 1, documentNumber: 10, random: 0xABCD).string
    static let channels = DocumentID(tableNumber: 2, documentNumber: 10, random: 0xABCD).string
    static let tables: TableNumberLookup = { ["users": 1, "channels": 2][$0] }

    static func accepts(_ validator: Validator, _ value: Value) -> Bool {
        (try? validator.validate(value, tables: tables)) != nil
    }

    static func failure(_ validator: Validator, _ value: Value) -> ValidationFailure? {
        do {
            try validator.validate(value, tables: tables)
            return nil
        } catch {
            return error
        }
    }

    static let everyKind: [Value] = [
        .null, .int64(1), .float64(1), .float64(.nan), .boolean(true), .string("s"), .string(users), .bytes([1]), [1], ["a": 1],
    ]

    static let kinds: [(Validator, [Value])] = {
        var kinds: [(Validator, [Value])] = []
        kinds.append((v.string(), [.string("s"), .string(users)]))
        kinds.append((v.float64(), [.float64(1), .float64(.nan)]))
        kinds.append((v.number(), [.float64(1), .float64(.nan)]))
        kinds.append((v.int64(), [.int64(1)]))
        kinds.append((v.boolean(), [.boolean(true)]))
        kinds.append((v.null(), [.null]))
        kinds.append((v.bytes(), [.bytes([1])]))
        kinds.append((v.id("users"), [.string(users)]))
        kinds.append((v.array(v.float64()), [.array([.float64(1)])]))
        kinds.append((v.object(["a": v.number()]), [.object(["a": .float64(1)])]))
        kinds.append((v.record(v.string(), v.number()), [.object(["a": .float64(1)])]))
        kinds.append((v.any(), everyKind))
        return kinds
    }()

    @Test(arguments: kinds)
    func acceptsExactlyItsKind(validator: Validator, accepted: [Value]) {
        for value in Self.everyKind {
            #expect(Self.accepts(validator, value) == accepted.contains(value), "\(validator) on \(value)")
        }
    }

    @Test func idsMustBeOfTheRightTable() {
        #expect(Self.accepts(v.id("users"), .string(Self.users)))
        #expect(!Self.accepts(v.id("users"), .string(Self.channels)))
        #expect(Self.accepts(v.id("channels"), .string(Self.channels)))
        #expect(!Self.accepts(v.id("unknown"), .string(Self.users)))
        #expect(!Self.accepts(v.id("users"), "not an id"))
        let error = Self.failure(v.id("users"), .string(Self.channels))
        #expect(error?.message.contains("Validator: v.id(\"users\")") == true)
    }

    @Test func mismatchNamesPathValueAndValidator() {
        let validator = v.object(["items": v.array(v.object(["name": v.string(), "qty": v.number()]))])
        let value: Value = ["items": [["name": "a", "qty": 1], ["name": "b", "qty": 2], ["name": 3, "qty": 3]]]
        let error = Self.failure(validator, value)
        #expect(error?.path == ".items[2].name")
        #expect(error?.message == "Value does not match validator.\nPath: .items[2].name\nValue: 3\nValidator: v.string()")
        let top = Self.failure(v.string(), 1)
        #expect(top?.path == "")
        #expect(top?.message == "Value does not match validator.\nPath: .\nValue: 1\nValidator: v.string()")
        #expect(Self.failure(v.int64(), 1)?.message.contains("Validator: v.int64()") == true)
        #expect(Self.failure(v.float64(), .int64(1))?.message.contains("Value: 1n\nValidator: v.float64()") == true)
    }

    @Test func objectFields() {
        let validator = v.object(["name": v.string(), "age": v.optional(v.number())])
        #expect(Self.accepts(validator, ["name": "a", "age": 3]))
        #expect(Self.accepts(validator, ["name": "a"]))
        #expect(!Self.accepts(validator, ["name": "a", "age": .null]))

        let missing = Self.failure(v.object(["list": v.array(validator)]), ["list": [["name": "a"], ["age": 1]]])
        #expect(missing?.path == ".list[1]")
        #expect(missing?.message.contains("Object is missing the required field `name`") == true)
        #expect(missing?.message.contains("Path: .list[1]") == true)

        let extra = Self.failure(validator, ["name": "a", "nick": "b"])
        #expect(extra?.message.contains("Object contains extra field `nick` that is not in the validator.") == true)
        #expect(extra?.message.contains("Path: .") == true)
        #expect(extra?.message.contains("Validator: v.object({ age: v.optional(v.float64()), name: v.string() })") == true)

        let wrongOptional = Self.failure(validator, ["name": "a", "age": "old"])
        #expect(wrongOptional?.path == ".age")
        #expect(wrongOptional?.message.contains("Validator: v.float64()") == true)

        #expect(Self.accepts(v.object([:]), [:]))
        #expect(!Self.accepts(v.object([:]), ["a": 1]))
    }

    @Test func records() {
        let validator = v.record(v.string(), v.array(v.number()))
        #expect(Self.accepts(validator, [:]))
        #expect(Self.accepts(validator, ["a": [1], "b": []]))
        let error = Self.failure(validator, ["a": [1], "b": [1, "x"]])
        #expect(error?.path == ".b[1]")
        #expect(error?.message.contains("Validator: v.float64()") == true)

        let byUser = v.record(v.id("users"), v.boolean())
        #expect(Self.accepts(byUser, .object([Self.users: true])))
        let badKey = Self.failure(byUser, ["nope": true])
        #expect(badKey?.path == ".nope (key)")
        #expect(badKey?.message.contains("Validator: v.id(\"users\")") == true)
        #expect(!Self.accepts(validator, [1]))
    }

    @Test func unions() {
        let validator = v.union(v.string(), v.number(), v.object(["kind": v.literal("x")]))
        #expect(Self.accepts(validator, "s"))
        #expect(Self.accepts(validator, 1))
        #expect(Self.accepts(validator, ["kind": "x"]))
        #expect(!Self.accepts(validator, ["kind": "y"]))
        let error = Self.failure(v.object(["u": validator]), ["u": true])
        #expect(error?.path == ".u")
        #expect(error?.message.contains("Validator: v.union(v.string(), v.float64(), v.object({ kind: v.literal(\"x\") }))") == true)
        #expect(!Self.accepts(v.union(), .null))
        #expect(Self.accepts(v.union(v.null(), v.optional(v.string())), "s"))
    }

    @Test func literals() {
        #expect(Self.accepts(v.literal("a"), "a"))
        #expect(!Self.accepts(v.literal("a"), "b"))
        #expect(Self.accepts(v.literal(3), 3))
        #expect(!Self.accepts(v.literal(3), .int64(3)))
        #expect(Self.accepts(v.literal(.int64(3)), .int64(3)))
        #expect(Self.accepts(v.literal(true), true))
        #expect(!Self.accepts(v.literal(true), false))
        #expect(Self.failure(v.literal("a"), "b")?.message.contains("Validator: v.literal(\"a\")") == true)
    }

    @Test func optionals() throws {
        #expect(Self.accepts(v.optional(v.string()), "s"))
        #expect(!Self.accepts(v.optional(v.string()), 1))
        #expect(!Self.accepts(v.optional(v.string()), .null))
        try v.optional(v.string()).check(nil, path: "", tables: Self.tables)
        let missing = #expect(throws: ValidationFailure.self) { try v.string().check(nil, path: ".x", tables: Self.tables) }
        #expect(missing?.message == "Value is missing. Path: .x\nValidator: v.string()")
        #expect(Self.accepts(v.array(v.optional(v.number())), [1, 2]))
    }

    @Test func descriptions() {
        #expect(v.any().description == "v.any()")
        #expect(v.bytes().description == "v.bytes()")
        #expect(v.null().description == "v.null()")
        #expect(v.boolean().description == "v.boolean()")
        #expect(v.record(v.string(), v.int64()).description == "v.record(v.string(), v.int64())")
        #expect(v.array(v.id("t")).description == "v.array(v.id(\"t\"))")
        #expect(v.literal(1.5).description == "v.literal(1.5)")
        #expect(v.object([:]).description == "v.object({})")
        #expect(v.number() == v.float64())
    }
}
