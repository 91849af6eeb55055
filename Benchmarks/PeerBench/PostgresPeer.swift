import Foundation
import Logging
import PostgresNIO

/// PostgreSQL as its users drive it: one connection per load-generator client, prepared
/// statements, durability from the server's own settings (scripts/bench starts it with fsync and
/// synchronous_commit on).
struct PostgresPeer: Sendable {
    let configuration: PostgresConnection.Configuration
    let logger = Logger(label: "peer-bench.postgres")

    /// `host:port`, user `postgres`, database `postgres`, no TLS (loopback).
    init(address: String) throws {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
            throw PeerError("--postgres must be host:port, got \(address)")
        }
        configuration = .init(host: String(address[..<colon]), port: port, username: "postgres", password: nil, database: "postgres", tls: .disable)
    }

    func connect(_ id: Int) async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
    }

    /// `count` connections, opened before the clock starts.
    func connections(_ count: Int) async throws -> [PostgresConnection] {
        var connections: [PostgresConnection] = []
        for id in 0..<count { connections.append(try await connect(id)) }
        return connections
    }

    /// Runs schema statements (DDL, seeding) one after another on a connection of its own.
    func setUp(_ statements: [String]) async throws {
        let connection = try await connect(10_000)
        for statement in statements {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await connection.close()
    }
}

/// The mutations part's insert: the same document shape as `events:insert`, a table with one
/// secondary index, as Ripple's `events` table with its `by_seq` index.
struct InsertEvent: PostgresPreparedStatement {
    static let sql = "INSERT INTO events(seq, payload) VALUES ($1, $2)"
    typealias Row = ()
    var seq: Double
    var payload: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(seq)
        bindings.append(payload)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// The transfers part's transaction, as a plpgsql function (what a careful user writes: one
/// round trip, both rows locked in key order so crossing transfers cannot deadlock).
struct Transfer: PostgresPreparedStatement {
    static let sql = "SELECT transfer($1, $2, $3)"
    typealias Row = Bool
    var from: Int64
    var to: Int64
    var amount: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(from)
        bindings.append(to)
        bindings.append(amount)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Bool.self) }
}

extension Transfer {
    static let schema = [
        "DROP TABLE IF EXISTS accounts",
        "CREATE TABLE accounts(id bigint PRIMARY KEY, balance bigint NOT NULL)",
        """
        CREATE OR REPLACE FUNCTION transfer(from_id bigint, to_id bigint, amount bigint) RETURNS boolean AS $$
        DECLARE
            from_balance bigint;
        BEGIN
            PERFORM 1 FROM accounts WHERE id IN (from_id, to_id) ORDER BY id FOR UPDATE;
            SELECT balance INTO from_balance FROM accounts WHERE id = from_id;
            IF from_balance IS NULL OR from_balance < amount THEN
                RETURN false;
            END IF;
            UPDATE accounts SET balance = balance - amount WHERE id = from_id;
            UPDATE accounts SET balance = balance + amount WHERE id = to_id;
            RETURN true;
        END;
        $$ LANGUAGE plpgsql
        """,
    ]
}
