import Foundation
import NIOCore
import NIOPosix
import RippleProtocol

/// Auth: the token fetcher, refresh before `exp`, and what happens when the server refuses a token.
extension RippleClient {
    /// Authenticates as a user from now on, with tokens from `fetcher`; it is asked again
    /// before each token's `exp` and when the server refuses a token. `onChange` hears `true`
    /// when the server accepts a token and `false` when the client gives up on auth (the fetcher
    /// returned `nil`, or the server refused two fresh tokens in a row).
    public func setAuth(_ fetcher: @escaping AuthTokenFetcher, onChange: (@Sendable (Bool) -> Void)? = nil) async {
        auth.refreshTimer?.cancel()
        auth = AuthState(fetcher: fetcher, onChange: onChange, generation: auth.generation + 1)
        await fetchToken(forceRefresh: false, reconnect: false)
    }

    /// Authenticates with an admin or deploy key (server-to-server use); no refresh.
    public func setAdminAuth(_ key: String) {
        dropAuth()
        perform(state.setAuth(.admin(key, impersonating: nil)))
    }

    /// Continues anonymously.
    public func clearAuth() {
        dropAuth()
        perform(state.setAuth(nil))
    }

    func dropAuth() {
        auth.refreshTimer?.cancel()
        auth = AuthState(generation: auth.generation + 1)
    }

    /// Asks the fetcher for a token and uses it: on the open socket, or by reconnecting (after the
    /// server refused the last one; real Convex closes the socket then anyway).
    private func fetchToken(forceRefresh: Bool, reconnect: Bool) async {
        guard let fetcher = auth.fetcher else { return }
        let generation = auth.generation
        let token: String?
        do {
            token = try await fetcher(forceRefresh)
        } catch {
            logger.warning("the auth token fetcher failed: \(error)")
            token = nil
        }
        // setAuth or clearAuth may have run while the fetcher was busy.
        guard auth.generation == generation else { return }
        guard let token else {
            let onChange = auth.onChange
            dropAuth()
            perform(state.setAuth(nil))
            onChange?(false)
            return
        }
        if reconnect {
            state.replaceAuth(.user(token))
            closeSocket(reason: "AuthError")
        } else {
            perform(state.setAuth(.user(token)))
        }
        scheduleRefresh(of: token, generation: generation)
    }

    private func scheduleRefresh(of token: String, generation: Int) {
        auth.refreshTimer?.cancel()
        guard let delay = TokenExpiry.refreshDelay(token, now: Date(), leeway: configuration.tokenRefreshLeeway) else { return }
        auth.refreshTimer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(delay)) {
            _ = Task { await self.refreshIfCurrent(generation) }
        }
    }

    private func refreshIfCurrent(_ generation: Int) async {
        guard auth.generation == generation else { return }
        await fetchToken(forceRefresh: true, reconnect: false)
    }

    func authRefused(_ error: String) async {
        logger.info("the server refused the auth token: \(error)")
        guard auth.fetcher != nil else {
            // An admin key or a token set without a fetcher: nothing fresher to offer.
            perform(state.setAuth(nil))
            closeSocket(reason: "AuthError")
            return
        }
        auth.refusals += 1
        if auth.refusals > 2 {
            let onChange = auth.onChange
            dropAuth()
            state.replaceAuth(nil)
            closeSocket(reason: "AuthError")
            onChange?(false)
            return
        }
        await fetchToken(forceRefresh: true, reconnect: true)
    }
}
