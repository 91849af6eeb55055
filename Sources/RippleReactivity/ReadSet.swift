// RippleReactivity — what a query read (`ReadSet`), what a commit wrote (`WriteSet`) and which
// subscriptions a commit invalidates (`SubscriptionIndex`). Pure: it may import RippleValues and
// RippleLog only, so the invalidation rule tests in microseconds with no engine around it.

import RippleLog
import RippleValues

/// A half-open interval `[lower, upper)` of keys in one index.
public struct KeyInterval: Hashable, Sendable, CustomStringConvertible {
    public let lower: IndexKey
    public let upper: IndexKey

    public init(lower: IndexKey, upper: IndexKey) {
        self.lower = lower
        self.upper = upper
    }

    public func contains(_ key: IndexKey) -> Bool { !(key < lower) && key < upper }

    public var description: String { "[\(lower), \(upper))" }
}

/// What a query execution depended on: the index key intervals it actually covered and the
/// document ids it fetched directly. Any commit writing a key inside one of the intervals, or
/// one of the ids, may change the query's result.
public struct ReadSet: Sendable, Equatable {
    public private(set) var intervals: [Int64: [KeyInterval]] = [:]
    public private(set) var documentIDs: Set<String> = []

    public init() {}

    public mutating func record(index: Int64, _ interval: KeyInterval) {
        guard interval.lower < interval.upper else { return }
        intervals[index, default: []].append(interval)
    }

    public mutating func record(documentID: String) {
        documentIDs.insert(documentID)
    }

    public mutating func formUnion(_ other: ReadSet) {
        for (index, list) in other.intervals { intervals[index, default: []].append(contentsOf: list) }
        documentIDs.formUnion(other.documentIDs)
    }

    public var intervalCount: Int { intervals.values.reduce(0) { $0 + $1.count } }

    /// `true` if `writes` touched anything this read set covers. A linear check, right for one
    /// query; `SubscriptionIndex` answers the same question for many read sets at once.
    public func isInvalidated(by writes: WriteSet) -> Bool {
        for change in writes.documents {
            if documentIDs.contains(change.id) { return true }
            for indexChange in change.indexChanges {
                guard let list = intervals[indexChange.index] else { continue }
                for interval in list {
                    if let old = indexChange.old, interval.contains(old) { return true }
                    if let new = indexChange.new, interval.contains(new) { return true }
                }
            }
        }
        return false
    }
}

/// What a commit wrote: for each document, its id and its old and new key in every index.
public struct WriteSet: Sendable, Equatable {
    public var documents: [DocumentChange]

    public init(_ documents: [DocumentChange] = []) { self.documents = documents }

    public var isEmpty: Bool { documents.isEmpty }
}
