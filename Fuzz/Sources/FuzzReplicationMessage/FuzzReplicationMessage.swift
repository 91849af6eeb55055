import NIOCore
import RippleReplication

/// A frame's payload through the message codec: the first input byte picks the kind, the rest
/// is the payload. It parses or throws `ReplicationError`, never traps; a parsed message
/// re-encodes to a payload that parses to the same message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReplicationMessage(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let kinds = LogFrame.Kind.allCases
    let kind = kinds[Int(start[0]) % kinds.count]
    let payload = ByteBuffer(bytes: UnsafeBufferPointer(start: start + 1, count: count - 1))
    guard let message = try? ReplicationMessage(frame: LogFrame(kind: kind, payload: payload)) else { return 0 }
    precondition(message.kind == kind, "a \(kind) payload parsed as \(message.kind)")
    let again = try? ReplicationMessage(frame: message.frame())
    precondition(again == message, "a message changed through its encoding")
    return 0
}
