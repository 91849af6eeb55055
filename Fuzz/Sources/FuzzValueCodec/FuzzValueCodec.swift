import RippleValues

/// Stored document bytes: any input either throws `ValueError` or decodes to a value whose
/// encoding decodes and re-encodes to the same bytes; it never traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzValueCodec(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    guard let value = try? ValueCodec.decode(bytes) else { return 0 }
    let again = ValueCodec.encode(value)
    let twice = again.withUnsafeBytes { try? ValueCodec.decode($0) }.map(ValueCodec.encode)
    precondition(twice == again, "ValueCodec round trip changed the value")
    return 0
}
