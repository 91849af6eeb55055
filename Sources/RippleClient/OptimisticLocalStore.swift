import RippleValues

/// An optimistic update: runs against the client's current query results when the mutation is
/// sent, and again on every server update until the mutation's commit is visible.
///
/// It must be a pure function of what it reads from the store: it is re-applied on top of each
/// newer server state, as in the JS client, so the app sees server data with its pending
/// mutations layered over it.
public typealias OptimisticUpdate = @Sendable (inout OptimisticLocalStore) -> Void

/// The query results an optimistic update reads and rewrites: only queries the client is
/// subscribed to are here, since only their subscribers could see a change.
public struct OptimisticLocalStore: Sendable {
    /// The queries with subscribers, loaded or not.
    let subscribed: Set<QueryToken>
    var results: [QueryToken: QueryOutcome]

    init(subscribed: Set<QueryToken>, results: [QueryToken: QueryOutcome]) {
        self.subscribed = subscribed
        self.results = results
    }

    /// The query's current result, `nil` when it has not loaded, failed, is not subscribed, or
    /// does not decode as `Result`.
    public func get<Args, Result>(_ query: QueryReference<Args, Result>, _ args: Args) -> Result? {
        guard let token = try? QueryToken(query, args), case .value(let value)? = results[token] else { return nil }
        return try? query.decode(value).get()
    }

    /// Replaces the query's result until the mutation's own commit arrives (or it fails). A
    /// query nobody subscribes to is ignored: there is nothing to show it in.
    public mutating func set<Args, Result>(_ query: QueryReference<Args, Result>, _ args: Args, _ result: Result) {
        guard let token = try? QueryToken(query, args), subscribed.contains(token), let value = try? ValueEncoder().encode(result) else {
            return
        }
        results[token] = .value(value)
    }
}
