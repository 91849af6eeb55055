import RippleValues

/// A stored table: its name and the number that its documents' ids encode.
public struct TableRecord: Sendable, Equatable {
    public let number: UInt32
    public let name: String

    public init(number: UInt32, name: String) {
        self.number = number
        self.name = name
    }
}

/// A stored index. `backfilling` indexes are maintained on writes but cannot be queried yet.
public struct IndexRecord: Sendable, Equatable {
    public enum State: UInt8, Sendable {
        case backfilling = 0
        case ready = 1
    }

    public let number: Int64
    public let tableNumber: UInt32
    public let name: String
    public let fields: [String]
    public var state: State

    public init(number: Int64, tableNumber: UInt32, name: String, fields: [String], state: State) {
        self.number = number
        self.tableNumber = tableNumber
        self.name = name
        self.fields = fields
        self.state = state
    }
}

/// The tables and indexes a database holds, in memory. Changed only by applying catalog writes
/// (`LogWrite.createTable` etc.), so every node derives the same catalog from the same log.
public struct Catalog: Sendable, Equatable {
    public private(set) var tablesByName: [String: TableRecord] = [:]
    public private(set) var tablesByNumber: [UInt32: TableRecord] = [:]
    public private(set) var indexesByTable: [UInt32: [IndexRecord]] = [:]

    public init() {}

    public func table(named name: String) -> TableRecord? { tablesByName[name] }
    public func table(number: UInt32) -> TableRecord? { tablesByNumber[number] }

    /// Every index of a table, including `by_creation_time`, in any state.
    public func indexes(of table: UInt32) -> [IndexRecord] { indexesByTable[table] ?? [] }

    public func index(table: UInt32, name: String) -> IndexRecord? { indexes(of: table).first { $0.name == name } }

    public var nextTableNumber: UInt32 { (tablesByNumber.keys.max() ?? 9) + 1 }
    public var nextIndexNumber: Int64 { (indexesByTable.values.flatMap { $0 }.map(\.number).max() ?? 0) + 1 }

    public mutating func apply(_ write: LogWrite) {
        switch write {
        case .document: break
        case .createTable(let table):
            tablesByName[table.name] = table
            tablesByNumber[table.number] = table
        case .createIndex(let index):
            indexesByTable[index.tableNumber, default: []].removeAll { $0.number == index.number }
            indexesByTable[index.tableNumber, default: []].append(index)
        case .setIndexState(let number, let state):
            for (table, indexes) in indexesByTable {
                if let i = indexes.firstIndex(where: { $0.number == number }) { indexesByTable[table]![i].state = state }
            }
        case .dropIndex(let number):
            for table in indexesByTable.keys { indexesByTable[table]!.removeAll { $0.number == number } }
        }
    }
}
