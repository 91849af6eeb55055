import Foundation
import RippleValues

/// A position in an index scan, as the opaque `cursor`/`continueCursor` strings of `paginate`:
/// "just after key K" or "the end of the range". Encodes the index so that a cursor from
/// another query is refused (`InvalidCursor`) instead of silently misread.
struct PageCursor: Equatable {
    enum Position: Equatable {
        case after(IndexKey)
        case end
    }

    let index: Int64
    let position: Position

    var string: String {
        var bytes: [UInt8] = [1]
        appendVarint(UInt64(bitPattern: index), to: &bytes)
        switch position {
        case .end: bytes.append(0)
        case .after(let key):
            bytes.append(1)
            bytes.append(contentsOf: key.bytes)
        }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init(index: Int64, position: Position) {
        self.index = index
        self.position = position
    }

    init(_ text: String, expectedIndex: Int64) throws(TransactionError) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), data.count >= 3, data[data.startIndex] == 1 else {
            throw TransactionError("InvalidCursor: the pagination cursor is not one this server issued")
        }
        let bytes = [UInt8](data)
        var index: UInt64 = 0
        var shift: UInt64 = 0
        var i = 1
        while i < bytes.count {
            index |= UInt64(bytes[i] & 0x7F) << shift
            i += 1
            if bytes[i - 1] & 0x80 == 0 { break }
            shift += 7
            if shift > 63 { throw TransactionError("InvalidCursor: the pagination cursor is corrupt") }
        }
        guard i < bytes.count, Int64(bitPattern: index) == expectedIndex else {
            throw TransactionError("InvalidCursor: the pagination cursor belongs to a different query")
        }
        switch bytes[i] {
        case 0: self.init(index: expectedIndex, position: .end)
        case 1: self.init(index: expectedIndex, position: .after(IndexKey(bytes: Array(bytes[(i + 1)...]))))
        default: throw TransactionError("InvalidCursor: the pagination cursor is corrupt")
        }
    }
}

/// One page of a paginated query, as Convex's `PaginationResult`.
public struct PaginationResult: Sendable, ValueConvertible {
    public let page: [Document]
    public let isDone: Bool
    public let continueCursor: String

    public var convexValue: Value {
        .object([
            "page": .array(page.map(\.convexValue)),
            "isDone": .boolean(isDone),
            "continueCursor": .string(continueCursor),
            "splitCursor": .null,
            "pageStatus": .null,
        ])
    }
}
