import RippleValues

/// JSON text as clients send arguments: any bytes either fail to parse (`JSONParseError`), fail
/// to decode as Convex JSON (`ValueError`), or give a value whose Convex JSON text decodes to the
/// same value and re-encodes to the same text. Plain JSON text round-trips through `JSON` too, and
/// the lossy "clean" form of the value always serializes. Never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConvexJSON(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    guard let json = try? JSON.parse(bytes) else { return 0 }
    let text = json.serialized()
    guard let reparsed = try? JSON.parse(text) else { preconditionFailure("serialized JSON did not parse: \(text)") }
    precondition(reparsed == json, "JSON text round trip changed the document: \(text)")

    guard let value = try? Value(convexJSON: json) else { return 0 }
    let encoded = value.convexJSON.serialized()
    guard let decodedJSON = try? JSON.parse(encoded), let decoded = try? Value(convexJSON: decodedJSON) else {
        preconditionFailure("a value's Convex JSON did not decode: \(encoded)")
    }
    precondition(decoded == value, "Convex JSON round trip changed the value: \(encoded)")
    precondition(decoded.convexJSON.serialized() == encoded, "Convex JSON encoding is not stable: \(encoded)")
    _ = value.cleanJSON.serialized()
    return 0
}
