import Foundation
import RippleValues
import Testing

/// Validators derived from Swift types: one declaration serves validation and decoding.
@Suite struct ValidatorDerivationTests {
    enum Channel: NamedTable { static let tableName = "channels" }

    enum Mood: String, Codable, CaseIterable, ValidatorConvertible {
        case calm, busy
    }

    struct Author: Codable {
        var name: String
        var karma: Int64
    }

    struct Everything: Codable {
        var text: String
        var count: Int
        var ratio: Double
        var big: Int64
        var flag: Bool
        var note: String?
        var channel: ID<Channel>
        var tags: [String]
        var scores: [String: Double]
        var author: Author
        var anything: Value
        var bytes: [UInt8]
        var mood: Mood
        var maybeNull: String??
    }

    @Test func derivesEveryKindOfField() throws {
        #expect(
            try Validator.derived(from: Everything.self)
                == .object([
                    "text": .string, "count": .float64, "ratio": .float64, "big": .int64, "flag": .boolean,
                    "note": .optional(.string), "channel": .id("channels"), "tags": .array(.string),
                    "scores": .record(keys: .string, values: .float64),
                    "author": .object(["name": .string, "karma": .int64]), "anything": .any, "bytes": .bytes,
                    "mood": .union([.literal("calm"), .literal("busy")]), "maybeNull": .optional(.union([.string, .null])),
                ]))
    }

    /// A type that contains itself is refused with a named error, not a stack overflow.
    @Test func aRecursiveTypeIsRefusedByName() {
        struct Node: Codable {
            var name: String
            var children: [Node]
        }
        #expect {
            try Validator.derived(from: Node.self)
        } throws: { error in
            "\(error)".hasPrefix("Cannot derive a validator from Node: ") && "\(error)".contains("nests more than 64 levels")
        }
    }

    @Test func anEmptyStructTakesNoArguments() throws {
        struct None: Codable {}
        #expect(try Validator.derivedFields(of: None.self) == [:])
    }

    @Test func aTypeThatIsNotAnObjectCannotBeArguments() {
        #expect { try Validator.derivedFields(of: [String].self) } throws: { ($0 as? ValidatorDerivationError)?.message == "Array<String> must decode from an object, but its validator is v.array(v.string())" }
        do {
            _ = try Validator.derivedFields(of: String.self)
        } catch {
            #expect(error.message == "String must decode from an object, but its validator is v.string()")
        }
    }

    /// A type whose `init(from:)` refuses the placeholder values and says nothing of itself.
    struct Picky: Decodable {
        init(from decoder: any Decoder) throws {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "never"))
        }
    }

    @Test func aTypeThatRefusesToBeProbedIsNamed() {
        do {
            _ = try Validator.derived(from: Picky.self)
            Issue.record("derived a validator from Picky")
        } catch {
            #expect(error.message.hasPrefix("Cannot derive a validator from Picky:"))
        }
    }

    @Test func keyPathsNameTheirFields() throws {
        let names = try FieldNames<Everything>()
        #expect(try names.name(of: \.text) == "text")
        #expect(try names.name(of: \.channel) == "channel")
        #expect(try names.name(of: \.count) == "count")
        #expect(try names.name(of: \.note) == "note")
        #expect(try names.name(of: \.author.name) == "author.name")
        #expect(try names.name(of: \.flag) == "flag")
    }

    struct TwoFlags: Codable {
        var on: Bool
        var off: Bool
    }

    @Test func keyPathsThatReadTheSamePlaceholderAreRefused() throws {
        // Both booleans read `false` from the probe: a key path to one cannot be told apart.
        #expect {
            try FieldNames<TwoFlags>().name(of: \.on)
        } throws: {
            ($0 as? ValidatorDerivationError)?.message
                == #"Cannot tell which field of TwoFlags \TwoFlags.on reads (only string, id and number fields are named by key path); name the field with a string"#
        }
    }
}
