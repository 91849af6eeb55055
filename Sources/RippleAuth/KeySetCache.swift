import Foundation
import JWTKit
import Logging

/// Each issuer's signing keys, fetched on first use and kept.
///
/// A discovered key set is fetched again when a token names a `kid` it lacks (the issuer rotated
/// keys) or when it is older than `lifetime` (so a withdrawn key stops working). Fetches for one
/// issuer start at most once per `refetchInterval`, whatever the outcome, so a stream of tokens
/// with made-up `kid`s cannot turn into a stream of requests to the issuer; concurrent callers share
/// one fetch. When a refetch fails the previous keys stay in use.
actor KeySetCache {
    struct Timing: Sendable {
        var refetchInterval: Duration
        var lifetime: Duration
    }

    private struct Discovered {
        var keySet: KeySet?
        var fetchedAt: Date?
        var lastAttempt: Date?
        var lastFailure: AuthError?
        var inFlight: Task<Result<KeySet, AuthError>, Never>?
    }

    private enum Slot {
        /// A fixed JWKS, parsed when configured and built into verifiers on first use.
        case pinned([JWK], KeySet?)
        case discovered(Discovered)
    }

    private var slots: [String: Slot]
    private let discovery: OIDCKeyDiscovery
    private let timing: Timing
    private let now: @Sendable () -> Date
    private let logger: Logger

    /// `issuers` maps each normalized issuer to its fixed JWKS, or to `nil` for discovery.
    init(
        issuers: [String: [JWK]?],
        discovery: OIDCKeyDiscovery,
        timing: Timing,
        now: @escaping @Sendable () -> Date,
        logger: Logger
    ) {
        self.slots = issuers.mapValues { jwks in jwks.map { .pinned($0, nil) } ?? .discovered(Discovered()) }
        self.discovery = discovery
        self.timing = timing
        self.now = now
        self.logger = logger
    }

    /// The keys to check a token from `issuer` (normalized) that names `keyID`. The result may still
    /// lack `keyID` when a refetch was not allowed yet or did not bring it.
    func keySet(for issuer: String, keyID: String?) async throws(AuthError) -> KeySet {
        switch slots[issuer] {
        case nil:
            throw .unknownIssuer(issuer)
        case .pinned(let jwks, let built):
            if let built { return built }
            do {
                let keySet = try await KeySet.build(jwks)
                slots[issuer] = .pinned(jwks, keySet)
                return keySet
            } catch {
                logger.warning("the configured key set is unusable", metadata: ["issuer": "\(issuer)", "error": "\(error.reason)"])
                throw .keySetUnavailable(issuer: issuer, reason: error.reason)
            }
        case .discovered(var entry):
            let started = now()
            if let keySet = entry.keySet, let fetchedAt = entry.fetchedAt,
                keyID.map(keySet.contains) ?? true,
                started.timeIntervalSince(fetchedAt) < timing.lifetime.timeInterval
            {
                return keySet
            }
            if let inFlight = entry.inFlight {
                return try Self.outcome(await inFlight.value, stale: entry.keySet)
            }
            if let lastAttempt = entry.lastAttempt, started.timeIntervalSince(lastAttempt) < timing.refetchInterval.timeInterval {
                if let keySet = entry.keySet { return keySet }
                throw entry.lastFailure ?? .keySetUnavailable(issuer: issuer, reason: "the last attempt failed moments ago")
            }
            let discovery = self.discovery
            let task = Task { () -> Result<KeySet, AuthError> in
                do throws(AuthError) {
                    return .success(try await discovery.loadKeySet(issuer: issuer))
                } catch {
                    return .failure(error)
                }
            }
            entry.lastAttempt = started
            entry.inFlight = task
            slots[issuer] = .discovered(entry)
            logger.debug("fetching signing keys", metadata: ["issuer": "\(issuer)", "kid": "\(keyID ?? "-")"])

            let result = await task.value
            // Other calls may have run during the fetch: update the stored entry, not the copy taken before it.
            guard case .discovered(var latest) = slots[issuer] else { return try Self.outcome(result, stale: nil) }
            latest.inFlight = nil
            switch result {
            case .success(let keySet):
                latest.keySet = keySet
                latest.fetchedAt = now()
                latest.lastFailure = nil
            case .failure(let error):
                latest.lastFailure = error
                logger.warning("fetching signing keys failed", metadata: ["issuer": "\(issuer)", "error": "\(error.logDescription)"])
            }
            slots[issuer] = .discovered(latest)
            return try Self.outcome(result, stale: latest.keySet)
        }
    }

    private static func outcome(_ result: Result<KeySet, AuthError>, stale: KeySet?) throws(AuthError) -> KeySet {
        switch result {
        case .success(let keySet): return keySet
        case .failure(let error):
            if let stale { return stale }
            throw error
        }
    }
}
