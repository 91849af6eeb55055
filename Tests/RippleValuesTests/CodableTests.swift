import Foundation
import Testing

@testable import RippleValues

@Suite struct CodableTests {
    struct User: Codable, Equatable {
        var _id: ID<User>
        var name: String
        var age: Int
        var balance: Int64
        var score: Double
        var nickname: String?
        var role: Role
        var avatar: [UInt8]
        var address: Address
        var tags: [String]
        var friends: [ID<User>]
    }

    enum Role: String, Codable, Equatable { case admin, member }

    struct Address: Codable, Equatable {
        var city: String
        var zip: Int?
    }

    struct Channel: Codable, Equatable {
        var _id: ID<Channel>
        var owner: ID<User>
        var name: String
    }

    struct Order: Codable, Equatable {
        struct Item: Codable, Equatable {
            var name: String
            var qty: Int
        }
        var items: [Item]
    }

    static let userID = ID<User>(DocumentID(tableNumber: 1, documentNumber: 1, random: 7))
    static let friendID = ID<User>(DocumentID(tableNumber: 1, documentNumber: 2, random: 9))

    static let user = User(
        _id: userID, name: "Ann", age: 41, balance: 1 << 60, score: 2.5, nickname: nil, role: .admin, avatar: [0, 255],
        address: Address(city: "Oslo", zip: 150), tags: ["a", "b"], friends: [friendID]
    )

    static func encode<T: Encodable>(_ value: T) throws -> Value { try ValueEncoder().encode(value) }
    static func decode<T: Decodable>(_ type: T.Type, _ value: Value) throws -> T { try ValueDecoder().decode(type, from: value) }

    static func decodingMessage<T: Decodable>(_ type: T.Type, _ value: Value) -> String? {
        do {
            _ = try decode(type, value)
            return nil
        } catch let error as DecodingError {
            switch error {
            case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): return c.debugDescription
            @unknown default: return "\(error)"
            }
        } catch {
            return "\(error)"
        }
    }

    static func encodingMessage<T: Encodable>(_ value: T) -> String? {
        do {
            _ = try encode(value)
            return nil
        } catch let EncodingError.invalidValue(_, context) {
            return context.debugDescription
        } catch {
            return "\(error)"
        }
    }

    @Test func encodesStructsToConvexValues() throws {
        let value = try Self.encode(Self.user)
        let expected: Value = [
            "_id": .string(Self.userID.rawValue), "name": "Ann", "age": 41, "balance": .int64(1 << 60), "score": 2.5,
            "role": "admin", "avatar": .bytes([0, 255]), "address": ["city": "Oslo", "zip": 150], "tags": ["a", "b"],
            "friends": [.string(Self.friendID.rawValue)],
        ]
        #expect(value == expected)
        // A nil optional is a missing field, not null.
        #expect(value["nickname"] == nil)
        #expect(value["age"].map { if case .float64 = $0 { true } else { false } } == true)
    }

    @Test func roundTrips() throws {
        var user = Self.user
        #expect(try Self.decode(User.self, Self.encode(user)) == user)
        user.nickname = "annie"
        user.address.zip = nil
        user.friends = []
        #expect(try Self.decode(User.self, Self.encode(user)) == user)
        let order = Order(items: [.init(name: "a", qty: 1), .init(name: "b", qty: -2)])
        #expect(try Self.decode(Order.self, Self.encode(order)) == order)
        // And through Convex JSON, as a client would send it.
        let wire = try JSON.parse(Self.encode(user).convexJSON.serialized())
        #expect(try Self.decode(User.self, Value(convexJSON: wire)) == user)
    }

    @Test func typedIDsEncodeAsPlainStrings() throws {
        let channel = Channel(_id: ID("c1"), owner: Self.userID, name: "general")
        let value = try Self.encode(channel)
        #expect(value == ["_id": "c1", "owner": .string(Self.userID.rawValue), "name": "general"])
        #expect(try Self.decode(Channel.self, value) == channel)
        #expect(Self.userID.documentID == DocumentID(tableNumber: 1, documentNumber: 1, random: 7))
        #expect(ID<Channel>("c1").documentID == nil)
        #expect(ID<User>(rawValue: "x").description == "x")
        #expect(ID<User>("x").value == "x")
        #expect(Set([ID<User>("a"), ID<User>("a"), ID<User>("b")]).count == 2)
        #expect(try Self.encode(ID<User>("u")) == "u")
        #expect(try String(decoding: JSONEncoder().encode([ID<User>("u")]), as: UTF8.self) == #"["u"]"#)
    }

    @Test func typedIDsOfDifferentTablesAreDifferentTypes() {
        let user: Any = ID<User>("x")
        #expect(user is ID<User>)
        #expect(!(user is ID<Channel>))
        #expect(ID<User>.self != ID<Channel>.self)
    }

    @Test func encodedStructsPassTheirValidators() throws {
        let channels = DocumentID(tableNumber: 2, documentNumber: 1, random: 1)
        let channel = Channel(_id: ID(channels), owner: Self.userID, name: "general")
        let validator = v.object(["_id": v.id("channels"), "owner": v.id("users"), "name": v.string()])
        let tables: TableNumberLookup = { ["users": 1, "channels": 2][$0] }
        try validator.validate(Self.encode(channel), tables: tables)
        let address = v.object(["city": v.string(), "zip": v.optional(v.number())])
        try address.validate(Self.encode(Address(city: "Oslo", zip: nil)), tables: tables)
        let order = v.object(["items": v.array(v.object(["name": v.string(), "qty": v.number()]))])
        try order.validate(Self.encode(Order(items: [.init(name: "a", qty: 1)])), tables: tables)
        #expect(throws: ValidationFailure.self) { try v.object(["balance": v.number()]).validate(Self.encode(["balance": Int64(1)]), tables: tables) }
    }

    @Test func numbersAndBigints() throws {
        struct Numbers: Codable, Equatable {
            var i: Int
            var i8: Int8
            var u16: UInt16
            var u32: UInt32
            var u: UInt
            var f: Float
            var d: Double
            var big: Int64
            var ubig: UInt64
        }
        let n = Numbers(i: -3, i8: -8, u16: 16, u32: 32, u: 7, f: 1.5, d: -0.0, big: .min, ubig: 5)
        let value = try Self.encode(n)
        #expect(value == ["i": -3, "i8": -8, "u16": 16, "u32": 32, "u": 7, "f": 1.5, "d": .float64(-0.0), "big": .int64(.min), "ubig": .int64(5)])
        #expect(try Self.decode(Numbers.self, value) == n)

        // Integers accept integral float64s and in-range int64s.
        #expect(try Self.decode(Int.self, 3) == 3)
        #expect(try Self.decode(Int.self, .int64(3)) == 3)
        #expect(try Self.decode(Int64.self, 3) == 3)
        #expect(try Self.decode(UInt8.self, 255) == 255)
        #expect(try Self.decode(Double.self, .int64(3)) == 3)
        #expect(try Self.decode(Double.self, .float64(.nan)).isNaN)
        #expect(Self.decodingMessage(Int.self, 3.5) == "Expected an integer that fits in Int at ., found number 3.5")
        #expect(Self.decodingMessage(UInt8.self, 256)?.contains("fits in UInt8") == true)
        #expect(Self.decodingMessage(Int8.self, .int64(200))?.contains("found bigint 200n") == true)
        #expect(Self.decodingMessage(Int.self, .float64(.nan)) == "Expected an integer that fits in Int at ., found number NaN")
        #expect(Self.decodingMessage(Int.self, .float64(.infinity)) == "Expected an integer that fits in Int at ., found number Infinity")
        #expect(Self.decodingMessage(Int.self, "3") == "Expected an integer that fits in Int at ., found string \"3\"")
        #expect(Self.decodingMessage(Double.self, .int64(.max))?.contains("does not fit a double exactly") == true)
        #expect(Self.decodingMessage(Float.self, 1e300)?.contains("fits in Float") == true)
        #expect(try Self.decode(Float.self, .float64(.infinity)) == .infinity)

        #expect(Self.encodingMessage(["n": Int.max])?.contains("at .n is not exactly representable as a Convex number") == true)
        #expect(Self.encodingMessage([UInt64.max])?.contains("at [0] does not fit in a Convex int64") == true)
        #expect(try Self.encode(1 << 53) == .float64(9_007_199_254_740_992))
    }

    @Test func optionals() throws {
        struct Maybe: Codable, Equatable {
            var a: String?
            var b: [Int?]
        }
        #expect(try Self.encode(Maybe(a: nil, b: [1, nil])) == ["b": [1, .null]])
        #expect(try Self.decode(Maybe.self, ["b": []]) == Maybe(a: nil, b: []))
        // Null reads as nil too.
        #expect(try Self.decode(Maybe.self, ["a": .null, "b": [.null]]) == Maybe(a: nil, b: [nil]))
        #expect(try Self.encode(String?.none) == .null)
        #expect(try Self.decode(String?.self, .null) == nil)
    }

    @Test func bytesDatesAndValues() throws {
        struct Blob: Codable, Equatable {
            var raw: [UInt8]
            var data: Data
            var at: Date
            var extra: Value
            var maybe: Value?
        }
        let blob = Blob(
            raw: [1], data: Data([2, 3]), at: Date(timeIntervalSince1970: 1.5), extra: ["big": .int64(1), "nan": .float64(.nan)], maybe: .int64(2))
        let value = try Self.encode(blob)
        #expect(
            value == [
                "raw": .bytes([1]), "data": .bytes([2, 3]), "at": 1500, "extra": ["big": .int64(1), "nan": .float64(.nan)], "maybe": .int64(2),
            ])
        #expect(try Self.decode(Blob.self, value) == blob)
        // An optional `Value` cannot tell null from missing: both read as nil.
        var withNull = value.objectValue!
        withNull["maybe"] = .null
        #expect(try Self.decode(Blob.self, .object(withNull)).maybe == nil)
        #expect(Self.decodingMessage([UInt8].self, [1, 2]) == "Expected bytes at ., found an array")
        #expect(Self.decodingMessage(Date.self, "2024")?.contains("milliseconds since 1970") == true)
    }

    @Test func valueThroughForeignCoders() throws {
        let value: Value = ["big": .int64(-1), "bytes": .bytes([1, 2, 3]), "inf": .float64(-.infinity), "list": [1.5, "s", .null, true]]
        let data = try JSONEncoder().encode(value)
        #expect(try Value(convexJSON: JSON.parse(Array(data))) == value)
        #expect(try JSONDecoder().decode(Value.self, from: data) == value)
        let error = #expect(throws: DecodingError.self) { try JSONDecoder().decode(Value.self, from: Data(#"{"$bad":1}"#.utf8)) }
        if case .dataCorrupted(let context)? = error {
            #expect(context.debugDescription.contains("starts with `$`"))
        } else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
        }
    }

    /// A raw-value enum's own error gets the path once, even through a `decode` nested in an
    /// `init(from:)`.
    @Test func foreignDataCorruptedErrorsGetThePathOnce() {
        struct DecodesARoleInside: Decodable {
            init(from decoder: any Decoder) throws {
                _ = try ValueDecoder().decode(Role.self, from: "owner")
            }
        }
        #expect(Self.decodingMessage(Role.self, "owner") == "Cannot initialize Role from invalid String value owner at .")
        #expect(Self.decodingMessage(DecodesARoleInside.self, [:]) == "Cannot initialize Role from invalid String value owner at .")
    }

    @Test func dictionariesAndEnumsWithPayloads() throws {
        enum Shape: Codable, Equatable {
            case circle(radius: Double)
            case square(side: Double)
        }
        let shapes: [String: Shape] = ["a": .circle(radius: 1), "b": .square(side: 2)]
        let value = try Self.encode(shapes)
        #expect(value == ["a": ["circle": ["radius": 1]], "b": ["square": ["side": 2]]])
        #expect(try Self.decode([String: Shape].self, value) == shapes)
        #expect(try Self.decode([Role].self, ["admin", "member"]) == [.admin, .member])
    }

    @Test func decodeErrorsNameTheFieldPath() {
        let bad: Value = ["items": [["name": "a", "qty": 1], ["name": "b", "qty": 2], ["name": 3, "qty": 3]]]
        #expect(Self.decodingMessage(Order.self, bad) == "Expected a string at .items[2].name, found number 3")

        let missing: Value = ["items": [["name": "a", "qty": 1], ["name": "b"]]]
        #expect(Self.decodingMessage(Order.self, missing) == "Missing required field at .items[1].qty")

        let notArray: Value = ["items": ["name": "a"]]
        #expect(Self.decodingMessage(Order.self, notArray) == "Expected an array at .items, found an object")
        #expect(Self.decodingMessage(Order.self, "x") == "Expected an object at ., found string \"x\"")

        var user = try! Self.encode(Self.user).objectValue!
        user["role"] = "owner"
        let roleMessage = Self.decodingMessage(User.self, .object(user))
        #expect(roleMessage?.contains("owner") == true)
        #expect(roleMessage?.hasSuffix("at .role") == true, "\(roleMessage ?? "")")

        user["role"] = "admin"
        user["address"] = ["city": "Oslo", "zip": 1.5]
        #expect(Self.decodingMessage(User.self, .object(user)) == "Expected an integer that fits in Int at .address.zip, found number 1.5")

        user["address"] = ["city": "Oslo"]
        user["friends"] = [.string(Self.friendID.rawValue), 7]
        #expect(Self.decodingMessage(User.self, .object(user)) == "Expected a string at .friends[1], found number 7")

        #expect(Self.decodingMessage([Int].self, [1, "x"]) == "Expected an integer that fits in Int at [1], found string \"x\"")
        #expect(Self.decodingMessage(Bool.self, .null) == "Expected a boolean at ., found null null")
    }

    @Test func tupleLikeArraysReportShortArrays() {
        struct Pair: Decodable {
            var a: Int
            var b: Int
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                a = try c.decode(Int.self)
                b = try c.decode(Int.self)
            }
        }
        #expect(Self.decodingMessage(Pair.self, [1]) == "Expected an element at [1], but the array has 1")
        #expect((try? Self.decode(Pair.self, [1, 2]))?.b == 2)
    }

    @Test func rejectsInvalidFieldNames() {
        #expect(Self.encodingMessage(["$where": 1]) == "Field name `$where` at path . starts with `$`, which is reserved")
        #expect(Self.encodingMessage(["ok": ["nested": ["": 1]]]) == "Empty field name in object at path .ok.nested")
        #expect(Self.encodingMessage([["é": true]])?.contains("at path [0] must contain only printable ASCII") == true)
    }

    @Test func customCodingWithNestedContainersAndSuper() throws {
        class Base: Codable {
            var id = 1
        }
        final class Derived: Base {
            var extra = "x"
            enum Keys: String, CodingKey { case extra, point }
            enum PointKeys: String, CodingKey { case x, y }
            override init() { super.init() }
            required init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: Keys.self)
                extra = try c.decode(String.self, forKey: .extra)
                let point = try c.nestedContainer(keyedBy: PointKeys.self, forKey: .point)
                _ = try point.decode(Int.self, forKey: .x)
                try super.init(from: c.superDecoder())
            }
            override func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(extra, forKey: .extra)
                var point = c.nestedContainer(keyedBy: PointKeys.self, forKey: .point)
                try point.encode(1, forKey: .x)
                try point.encode(2, forKey: .y)
                var list = c.nestedUnkeyedContainer(forKey: .extra)
                try list.encode("overwritten")
                try c.encode(extra, forKey: .extra)
                try super.encode(to: c.superEncoder())
            }
        }
        let value = try Self.encode(Derived())
        #expect(value == ["extra": "x", "point": ["x": 1, "y": 2], "super": ["id": 1]])
        let decoded = try Self.decode(Derived.self, value)
        #expect(decoded.id == 1 && decoded.extra == "x")
    }
}
