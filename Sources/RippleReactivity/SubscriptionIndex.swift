import RippleLog
import RippleValues

/// Finds which subscriptions a commit invalidates without looking at the others: read-set
/// intervals live in one interval tree per index (a treap ordered by lower bound, each node
/// knowing the largest upper bound beneath it), and `db.get` ids in a hash map. A lookup costs
/// O(log n) plus the hits.
public struct SubscriptionIndex<Subscriber: Hashable & Sendable>: Sendable {
    private var trees: [Int64: IntervalTree<Subscriber>] = [:]
    private var byDocument: [String: Set<Subscriber>] = [:]
    private var registered: [Subscriber: ReadSet] = [:]

    public init() {}

    public var count: Int { registered.count }

    /// Registers (or re-registers) `subscriber` with its read set.
    public mutating func insert(_ subscriber: Subscriber, readSet: ReadSet) {
        remove(subscriber)
        registered[subscriber] = readSet
        for (index, intervals) in readSet.intervals {
            for interval in intervals { trees[index, default: IntervalTree()].insert(interval, subscriber) }
        }
        for id in readSet.documentIDs { byDocument[id, default: []].insert(subscriber) }
    }

    public mutating func remove(_ subscriber: Subscriber) {
        guard let readSet = registered.removeValue(forKey: subscriber) else { return }
        for (index, intervals) in readSet.intervals {
            for interval in intervals { trees[index]?.remove(interval, subscriber) }
            if trees[index]?.isEmpty == true { trees[index] = nil }
        }
        for id in readSet.documentIDs {
            byDocument[id]?.remove(subscriber)
            if byDocument[id]?.isEmpty == true { byDocument[id] = nil }
        }
    }

    /// Every subscriber whose read set contains a key or id that `writes` touched.
    public func invalidated(by writes: WriteSet) -> Set<Subscriber> {
        var hits = Set<Subscriber>()
        for change in writes.documents {
            if let subscribers = byDocument[change.id] { hits.formUnion(subscribers) }
            for indexChange in change.indexChanges {
                guard let tree = trees[indexChange.index] else { continue }
                if let old = indexChange.old { tree.stab(old) { hits.insert($0) } }
                if let new = indexChange.new, new != indexChange.old { tree.stab(new) { hits.insert($0) } }
            }
        }
        return hits
    }
}

/// A persistent treap of distinct `[lower, upper)` intervals ordered by `(lower, upper)`, each
/// with the subscribers that read it, augmented with the maximum upper bound of each subtree so
/// a stabbing query skips subtrees that end before the key and stops at lower bounds past it.
/// Updates copy the O(log n) path they touch.
struct IntervalTree<Subscriber: Hashable & Sendable>: Sendable {
    final class Node: @unchecked Sendable {
        // The tree is persistent: a node is mutated only while it is a fresh copy that no other
        // tree can see yet, so sharing nodes between copies of the index is safe.
        let interval: KeyInterval
        var subscribers: Set<Subscriber>
        let priority: UInt64
        var left: Node?
        var right: Node?
        var maxUpper: IndexKey

        init(_ interval: KeyInterval, _ subscribers: Set<Subscriber>, priority: UInt64) {
            self.interval = interval
            self.subscribers = subscribers
            self.priority = priority
            self.maxUpper = interval.upper
        }

        func update() {
            var m = interval.upper
            if let l = left?.maxUpper, m < l { m = l }
            if let r = right?.maxUpper, m < r { m = r }
            maxUpper = m
        }

        func copy() -> Node {
            let n = Node(interval, subscribers, priority: priority)
            n.left = left
            n.right = right
            n.maxUpper = maxUpper
            return n
        }
    }

    private var root: Node?
    private var seed: UInt64 = 0x2545_F491_4F6C_DD1D

    var isEmpty: Bool { root == nil }

    private mutating func nextPriority() -> UInt64 {
        seed ^= seed << 13
        seed ^= seed >> 7
        seed ^= seed << 17
        return seed
    }

    private static func order(_ a: KeyInterval, _ b: KeyInterval) -> Int {
        if a.lower != b.lower { return a.lower < b.lower ? -1 : 1 }
        if a.upper != b.upper { return a.upper < b.upper ? -1 : 1 }
        return 0
    }

    mutating func insert(_ interval: KeyInterval, _ subscriber: Subscriber) {
        if let updated = Self.adding(subscriber, to: interval, in: root) {
            root = updated
            return
        }
        root = Self.insert(Node(interval, [subscriber], priority: nextPriority()), into: root?.copy())
    }

    /// The tree with `subscriber` added to an existing node for `interval`, or nil if there is none.
    private static func adding(_ subscriber: Subscriber, to interval: KeyInterval, in tree: Node?) -> Node? {
        guard let tree else { return nil }
        let c = order(interval, tree.interval)
        let copy = tree.copy()
        if c == 0 {
            copy.subscribers.insert(subscriber)
            return copy
        }
        if c < 0 {
            guard let left = adding(subscriber, to: interval, in: tree.left) else { return nil }
            copy.left = left
        } else {
            guard let right = adding(subscriber, to: interval, in: tree.right) else { return nil }
            copy.right = right
        }
        return copy
    }

    private static func insert(_ node: Node, into tree: Node?) -> Node {
        guard let tree else { return node }
        if node.priority > tree.priority {
            let (l, r) = split(tree, at: node.interval)
            node.left = l
            node.right = r
            node.update()
            return node
        }
        if order(node.interval, tree.interval) < 0 {
            tree.left = insert(node, into: tree.left?.copy())
        } else {
            tree.right = insert(node, into: tree.right?.copy())
        }
        tree.update()
        return tree
    }

    /// Splits into the intervals ordered before `pivot` and the rest.
    private static func split(_ tree: Node?, at pivot: KeyInterval) -> (Node?, Node?) {
        guard let tree = tree?.copy() else { return (nil, nil) }
        if order(tree.interval, pivot) < 0 {
            let (l, r) = split(tree.right, at: pivot)
            tree.right = l
            tree.update()
            return (tree, r)
        } else {
            let (l, r) = split(tree.left, at: pivot)
            tree.left = r
            tree.update()
            return (l, tree)
        }
    }

    mutating func remove(_ interval: KeyInterval, _ subscriber: Subscriber) {
        root = Self.remove(interval, subscriber, from: root)
    }

    private static func remove(_ interval: KeyInterval, _ subscriber: Subscriber, from tree: Node?) -> Node? {
        guard let tree else { return nil }
        let c = order(interval, tree.interval)
        if c == 0 {
            var rest = tree.subscribers
            rest.remove(subscriber)
            if rest.isEmpty { return merge(tree.left, tree.right) }
            let copy = tree.copy()
            copy.subscribers = rest
            return copy
        }
        let copy = tree.copy()
        if c < 0 { copy.left = remove(interval, subscriber, from: tree.left) } else { copy.right = remove(interval, subscriber, from: tree.right) }
        copy.update()
        return copy
    }

    private static func merge(_ a: Node?, _ b: Node?) -> Node? {
        guard let a else { return b }
        guard let b else { return a }
        if a.priority > b.priority {
            let copy = a.copy()
            copy.right = merge(a.right, b)
            copy.update()
            return copy
        } else {
            let copy = b.copy()
            copy.left = merge(a, b.left)
            copy.update()
            return copy
        }
    }

    /// Calls `found` for every subscriber of an interval containing `key`.
    func stab(_ key: IndexKey, _ found: (Subscriber) -> Void) {
        Self.stab(root, key, found)
    }

    private static func stab(_ node: Node?, _ key: IndexKey, _ found: (Subscriber) -> Void) {
        guard let node, key < node.maxUpper else { return }
        stab(node.left, key, found)
        guard !(key < node.interval.lower) else { return }  // everything to the right starts later still
        if node.interval.contains(key) { node.subscribers.forEach(found) }
        stab(node.right, key, found)
    }
}
