import RippleLog

/// Snapshot bytes as a replica receives them: they decode or throw `ValueError`, never trap,
/// and never allocate more than the input can hold.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    guard let snapshot = try? SnapshotCodec.decode(bytes) else { return 0 }
    precondition(snapshot.documents.allSatisfy { $0.value.count <= count }, "a document is larger than the snapshot holding it")
    return 0
}
