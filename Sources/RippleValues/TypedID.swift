/// A document id typed by the table it belongs to: `ID<User>` and `ID<Channel>` are different
/// types, so the compiler refuses a channel id where a user id is expected.
///
/// `Table` is only a marker (usually the document's Swift type); nothing of it is stored. On the
/// wire and in documents an `ID` is the plain id string, as in Convex's `Id<"users">`.
public struct ID<Table>: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
    /// The id string, as clients see it.
    public let rawValue: String

    /// Wraps an id string without checking it: clients treat ids as opaque strings.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Wraps an id string without checking it.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The id of a stored document; the caller vouches that it is in `Table`'s table.
    public init(_ id: DocumentID) { self.rawValue = id.string }

    public var description: String { rawValue }

    /// The parsed id, or `nil` if the string is not a Ripple document id.
    public var documentID: DocumentID? { DocumentID(rawValue) }

    /// The id as a Convex value (a string).
    public var value: Value { .string(rawValue) }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
