import RippleLog
import RippleValues

extension MetaKey {
    /// Every commit with `ts <= log_pruned_through` has been deleted from `commit_log`.
    public static let logPrunedThrough = "log_pruned_through"
}

extension Store {
    /// Encodes this database's state as a snapshot. Call inside one read transaction so the
    /// catalog, documents and applied timestamp belong to the same commit; returns that commit's ts.
    public func encodeSnapshot() throws -> (ts: CommitTimestamp, bytes: [UInt8]) {
        let ts = try appliedTimestamp()
        var out = SnapshotCodec.magic
        appendVarint(ts.nanoseconds, to: &out)
        appendVarint(try appliedTerm(), to: &out)
        appendVarint(UInt64(bitPattern: try maxDocumentNumber()), to: &out)
        let catalog = try loadCatalog()
        var writes: [LogWrite] = []
        for table in catalog.tablesByNumber.values.sorted(by: { $0.number < $1.number }) {
            writes.append(.createTable(table))
            for index in catalog.indexes(of: table.number).sorted(by: { $0.number < $1.number }) { writes.append(.createIndex(index)) }
        }
        let encodedCatalog = CommitCodec.encode(writes)
        appendVarint(UInt64(encodedCatalog.count), to: &out)
        out += encodedCatalog
        let s = try database.statement("SELECT number, table_number, id, ts, value FROM documents ORDER BY number")
        defer { s.reset() }
        while try s.step() {
            out.append(1)
            appendVarint(UInt64(s.int64(1)), to: &out)
            appendVarint(UInt64(bitPattern: s.int64(0)), to: &out)
            CommitCodec.appendString(s.string(2), to: &out)
            appendVarint(UInt64(bitPattern: s.int64(3)), to: &out)
            try s.withBytes(4) { buffer in
                appendVarint(UInt64(buffer.count), to: &out)
                out.append(contentsOf: buffer)
            }
        }
        out.append(0)
        return (ts, out)
    }

    /// Replaces this database's whole state with `snapshot`, inside the caller's write
    /// transaction: every document is deleted (maintaining indexes), catalog, index entries and
    /// commit log are cleared, then the snapshot's catalog and documents are written and the
    /// applied timestamp set to the snapshot's. Returns every document change (the deletes and
    /// the inserts), so subscriptions on this node can tell what moved.
    public func installSnapshot(_ snapshot: SnapshotCodec.Decoded) throws -> [DocumentChange] {
        var changes: [DocumentChange] = []
        var existing: [(UInt32, Int64, String, Value)] = []
        let select = try database.statement("SELECT number, table_number, id, value FROM documents ORDER BY number")
        while try select.step() {
            existing.append((UInt32(select.int64(1)), select.int64(0), select.string(2), try select.withBytes(3) { try ValueCodec.decode($0) }))
        }
        select.reset()
        for (table, number, id, value) in existing {
            let indexChanges = try writeDocument(tableNumber: table, number: number, id: id, ts: snapshot.ts, old: value, new: nil, encoded: nil)
            changes.append(DocumentChange(tableNumber: table, number: number, id: id, indexChanges: indexChanges))
        }
        try database.execute(
            "DELETE FROM documents; DELETE FROM index_entries; DELETE FROM indexes_catalog; DELETE FROM tables_catalog; DELETE FROM commit_log;"
        )
        try reloadCatalog()
        for write in snapshot.catalog { try applyCatalog(write) }
        for document in snapshot.documents {
            let value = try ValueCodec.decode(document.value)
            let indexChanges = try writeDocument(
                tableNumber: document.tableNumber, number: document.number, id: document.id, ts: document.ts, old: nil, new: value,
                encoded: document.value)
            changes.append(DocumentChange(tableNumber: document.tableNumber, number: document.number, id: document.id, indexChanges: indexChanges))
        }
        try setMeta(MetaKey.maxDocumentNumber, snapshot.maxDocumentNumber)
        try setMeta(MetaKey.logPrunedThrough, snapshot.ts.bitPattern)
        try setMeta(MetaKey.catalogVersion, (try meta(MetaKey.catalogVersion) ?? 0) + 1)
        try refreshCatalogIfChanged()
        try setAppliedTimestamp(snapshot.ts, term: snapshot.term)
        return changes
    }

    /// Everything through this timestamp has been pruned from the commit log (0: nothing).
    public func logPrunedThrough() throws(DatabaseError) -> CommitTimestamp {
        CommitTimestamp(bitPattern: try meta(MetaKey.logPrunedThrough) ?? 0)
    }

    /// Deletes at most `batch` of the oldest commits with `ts <= cutoff` in one short write
    /// transaction, recording the pruned point in the same transaction. Returns how many went.
    public func pruneLog(through cutoff: CommitTimestamp, batch: Int) throws -> Int {
        try database.transaction(.immediate) {
            let s = try database.statement("SELECT ts FROM commit_log WHERE ts <= ?1 ORDER BY ts LIMIT ?2")
            s.bind(1, cutoff.bitPattern)
            s.bind(2, Int64(batch))
            var count = 0
            var last: Int64 = 0
            while try s.step() {
                count += 1
                last = s.int64(0)
            }
            s.reset()
            guard count > 0 else { return 0 }
            let delete = try database.statement("DELETE FROM commit_log WHERE ts <= ?1")
            delete.bind(1, last)
            try delete.run()
            if CommitTimestamp(bitPattern: last) > (try logPrunedThrough()) { try setMeta(MetaKey.logPrunedThrough, last) }
            return count
        }
    }

    /// The timestamp through which pruning keeps the newest `keep` commits (0: nothing to prune).
    public func logCutoff(keepingNewest keep: Int) throws(DatabaseError) -> CommitTimestamp {
        let s = try database.statement("SELECT ts FROM commit_log ORDER BY ts DESC LIMIT 1 OFFSET ?1")
        s.bind(1, Int64(keep))
        defer { s.reset() }
        return try s.step() ? CommitTimestamp(bitPattern: s.int64(0)) : .zero
    }
}
