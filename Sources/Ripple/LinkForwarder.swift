import RippleEngine
import RippleReplication
import Synchronization

/// Sends a replica's mutations to the writer over the replication link.
final class LinkForwarder: MutationForwarder {
    private let client = Mutex<ReplicationClient?>(nil)

    func attach(_ replicationClient: ReplicationClient) {
        client.withLock { $0 = replicationClient }
    }

    func forward(_ call: ForwardedCall) async -> ForwardedOutcome {
        guard let client = client.withLock({ $0 }) else {
            return .failed(FunctionError(.unavailable, "The writer is not connected yet; retry the mutation"))
        }
        do {
            return try ForwardedOutcome(decoding: try await client.forward(call.encoded))
        } catch {
            return .failed(FunctionError.unknownOutcome(.linkLost(reason: "\(error)")))
        }
    }
}
