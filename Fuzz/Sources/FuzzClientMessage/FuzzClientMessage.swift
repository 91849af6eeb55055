import RippleProtocol

/// One sync WebSocket frame from an anonymous client: any bytes either throw `ProtocolError` or
/// parse to a message that the client-side writer serializes back to the same message; never a
/// trap, whatever the numbers, nesting or strings.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientMessage(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: start, count: count)
    guard let message = try? ClientMessage.parse(utf8: bytes) else { return 0 }
    let text = message.serialized()
    guard let again = try? ClientMessage.parse(text) else { preconditionFailure("a parsed message did not parse again: \(text)") }
    precondition(again == message, "ClientMessage round trip changed the message: \(text)")
    precondition(again.serialized() == text, "ClientMessage serialization is not stable: \(text)")
    return 0
}
