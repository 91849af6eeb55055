import RippleEngine
import RippleLog
import RippleReplication

/// The replica's side: shipped commits go into the engine's applier.
struct EngineCommitSink: CommitSink {
    let engine: Engine

    func appliedTimestamp() async throws -> CommitTimestamp { try await engine.appliedTimestamp() }
    func appliedTerm() async throws -> UInt64 { try await engine.appliedTerm() }
    func apply(
        _ commits: [Commit], following previousTimestamp: CommitTimestamp, completion: @escaping @Sendable (Result<CommitTimestamp, any Error>) -> Void
    ) {
        engine.apply(commits, following: previousTimestamp, completion: completion)
    }
    func install(snapshot: [UInt8], at ts: CommitTimestamp) async throws {
        let installed = try await engine.install(snapshot: snapshot)
        guard installed == ts else { throw ReplicationError.unexpectedMessage("snapshot announced ts \(ts) but holds \(installed)") }
    }
}
