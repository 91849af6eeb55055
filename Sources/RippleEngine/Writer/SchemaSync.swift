import Logging
import RippleLog
import RippleStorage
import RippleValues

/// Brings the stored catalog in line with the app's schema when a writer starts: new tables,
/// new indexes, removed or changed indexes — each change a commit in the log, like data. An
/// index added to a table that already has documents starts `backfilling`, is filled in
/// batches, and only then committed `ready` (queryable).
struct SchemaSync {
    let store: Store
    let logger: Logger
    var clock: CommitClock
    /// The writer's term, recorded with each commit.
    let term: UInt64

    mutating func run(_ schema: Schema) throws {
        var catalog = store.catalog
        var writes: [LogWrite] = []
        func apply(_ write: LogWrite) {
            catalog.apply(write)
            writes.append(write)
        }
        for table in schema.tables {
            let record: TableRecord
            if let existing = catalog.table(named: table.name) {
                record = existing
            } else {
                record = TableRecord(number: catalog.nextTableNumber, name: table.name)
                apply(.createTable(record))
                apply(.createIndex(IndexRecord(number: catalog.nextIndexNumber, tableNumber: record.number,
                                               name: IndexDefinition.byCreationTime.name, fields: [], state: .ready)))
            }
            let hasDocuments = try store.tableHasDocuments(record.number)
            for index in table.indexes {
                if let existing = catalog.index(table: record.number, name: index.name) {
                    if existing.fields == index.fields { continue }
                    logger.info("index \(table.name).\(index.name) changed fields; rebuilding")
                    apply(.dropIndex(number: existing.number))
                }
                apply(.createIndex(IndexRecord(number: catalog.nextIndexNumber, tableNumber: record.number, name: index.name,
                                               fields: index.fields, state: hasDocuments ? .backfilling : .ready)))
            }
            let wanted = Set(table.indexes.map(\.name) + [IndexDefinition.byCreationTime.name])
            for stale in catalog.indexes(of: record.number) where !wanted.contains(stale.name) {
                logger.info("index \(table.name).\(stale.name) removed from the schema; dropping")
                apply(.dropIndex(number: stale.number))
            }
        }
        if !writes.isEmpty { try commit(writes) }
        for table in schema.tables {
            guard let record = store.catalog.table(named: table.name) else { continue }
            for index in store.catalog.indexes(of: record.number) where index.state == .backfilling {
                try backfill(index, tableName: table.name)
            }
        }
    }

    private mutating func commit(_ writes: [LogWrite]) throws {
        let ts = clock.next()
        try store.writeTransaction {
            for write in writes { try store.applyCatalog(write) }
            try store.appendLog(Commit(ts: ts, term: term, writes: writes))
            try store.setAppliedTimestamp(ts, term: term)
        }
    }

    /// Fills the index in batches of its own transactions (the node is not serving yet), then
    /// commits it as ready.
    private mutating func backfill(_ index: IndexRecord, tableName: String) throws {
        logger.info("backfilling index \(tableName).\(index.name)")
        var after: Int64? = 0
        var done = 0
        while let position = after {
            after = try store.writeTransaction { try store.backfill(index: index, afterDocument: position, batch: 2_000) }
            done += 2_000
            if after != nil, done % 20_000 == 0 { logger.info("backfilling index \(tableName).\(index.name): \(done) documents") }
        }
        try commit([.setIndexState(number: index.number, state: .ready)])
        logger.info("index \(tableName).\(index.name) is ready")
    }
}
