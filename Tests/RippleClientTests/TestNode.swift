import RippleAuth
import RippleNodeTestSupport

extension TestNode {
    /// A node serving `NotesApp` on a fresh data directory.
    static func start(authenticator: Authenticator? = nil) async throws -> TestNode {
        try await start(app: NotesApp.app, authenticator: authenticator)
    }
}
