import RippleLog

/// A commit record (from the commit log, or a `commits` message): it decodes or throws
/// `ValueError`, never traps; decoded writes re-encode to a record that decodes the same.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommitCodec(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard let writes = try? CommitCodec.decode(UnsafeRawBufferPointer(start: start, count: count)) else { return 0 }
    let again = try? CommitCodec.decode(CommitCodec.encode(writes))
    precondition(again == writes, "commit writes changed through their encoding")
    return 0
}
