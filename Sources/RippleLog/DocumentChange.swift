import RippleValues

/// How one write moved a document in one index: its key before and after (`nil` = absent).
public struct IndexChange: Sendable, Equatable {
    public let index: Int64
    public let old: IndexKey?
    public let new: IndexKey?

    public init(index: Int64, old: IndexKey?, new: IndexKey?) {
        self.index = index
        self.old = old
        self.new = new
    }
}

/// One document written by a commit, with its movement in every index: the raw material of a
/// write set.
public struct DocumentChange: Sendable, Equatable {
    public let tableNumber: UInt32
    public let number: Int64
    public let id: String
    public let indexChanges: [IndexChange]

    public init(tableNumber: UInt32, number: Int64, id: String, indexChanges: [IndexChange]) {
        self.tableNumber = tableNumber
        self.number = number
        self.id = id
        self.indexChanges = indexChanges
    }
}
