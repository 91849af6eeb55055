import Synchronization

/// A live query: yields the query's result now and again each time it changes, until the loop
/// over it ends (the subscription then ends on the server too).
///
/// The sequence throws, and ends, when the query fails on the server or its result does not
/// decode as `Result`; subscribe again to retry. A consumer that falls more than
/// `RippleClient.Configuration.subscriptionBufferSize` results behind skips to the newer ones:
/// a live query is about the current state, not every state on the way.
public struct QuerySubscription<Result: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Result

    let stream: AsyncThrowingStream<Result, any Error>
    let lease: SubscriptionLease

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator(), lease: lease)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Result, any Error>.AsyncIterator
        /// Held so the subscription lives exactly as long as someone can still read it.
        let lease: SubscriptionLease

        public mutating func next() async throws -> Result? {
            try await base.next()
        }
    }
}

/// Ends a subscription once, when its last reader is gone or its stream terminates, whichever
/// comes first.
final class SubscriptionLease: Sendable {
    private let release: Mutex<(@Sendable () -> Void)?>

    init(_ release: @escaping @Sendable () -> Void) {
        self.release = Mutex(release)
    }

    func end() {
        let release = self.release.withLock { release in
            defer { release = nil }
            return release
        }
        release?()
    }

    deinit { end() }
}
