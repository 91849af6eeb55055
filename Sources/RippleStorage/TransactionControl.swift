/// The statements that open, nest and end a group commit's transaction, prepared once: every
/// mutation of a group runs two of them (its SAVEPOINT and its RELEASE), so none is looked up
/// by its text on the hot path. Each mutation's savepoint is what lets one mutation fail
/// without undoing the others of its group.
public struct TransactionControl {
    /// Opens the group's transaction, taking the write lock at once.
    public let begin: Statement
    /// Opens one mutation's savepoint inside the group.
    public let savepoint: Statement
    /// Closes a mutation's savepoint, keeping its writes (after `rollbackToSavepoint`: none).
    public let release: Statement
    /// Undoes a failed mutation's writes, leaving the group's earlier ones.
    public let rollbackToSavepoint: Statement
    public let commit: Statement
    public let rollback: Statement

    public init(_ database: Database) throws(DatabaseError) {
        begin = try database.prepare("BEGIN IMMEDIATE")
        savepoint = try database.prepare("SAVEPOINT mutation")
        release = try database.prepare("RELEASE mutation")
        rollbackToSavepoint = try database.prepare("ROLLBACK TO mutation")
        commit = try database.prepare("COMMIT")
        rollback = try database.prepare("ROLLBACK")
    }
}

@available(*, unavailable)
extension TransactionControl: Sendable {}
