import Foundation
import PostgresNIO

// The networked benchmarks of `scripts/bench`: one load generator drives Ripple (bench-server
// nodes, HTTP API and sync protocol) and PostgreSQL (wire protocol, prepared statements) with the
// same workload.
//   PeerBench mutations --ripple URL --postgres HOST:PORT [--clients 64] [--seconds 10]
//                       [--ripple-pid PID --postgres-pid PID]   (server CPU per operation)
//   PeerBench transfers --ripple URL --postgres HOST:PORT [--clients 50] [--seconds 10]
//                       [--accounts 100000] [--hot 10] [--hot-share 0.8] [--ripple-pid PID --postgres-pid PID]
//   PeerBench reactivity --ripple WRITER_URL --replica URL --ripple-pids PID,PID
//                       --postgres HOST:PORT --postgres-pid PID [--subscribers 1000]
//                       [--channels 100] [--rate 100] [--seconds 10]
//   PeerBench reads --nodes WRITER_URL,REPLICA_URL,… --pids PID,… [--clients 64] [--seconds 10]
//                       [--accounts 10000]
//   PeerBench sync --async WRITER_URL --sync WRITER_URL [--clients 64] [--seconds 10]
//   PeerBench seed --ripple URL [--accounts 1000000]     (accounts for the bootstrap part)

/// The command line: a part name and `--flag value` pairs.
struct Options {
    let part: String
    private var values: [String: String] = [:]

    init(_ arguments: [String]) throws {
        guard let part = arguments.first else { throw PeerError("usage: PeerBench mutations|transfers|reactivity|reads|sync|seed --flag value …") }
        self.part = part
        var rest = arguments.dropFirst()
        while let flag = rest.popFirst() {
            guard flag.hasPrefix("--"), let value = rest.popFirst() else { throw PeerError("expected --flag value, got \(flag)") }
            values[String(flag.dropFirst(2))] = value
        }
    }

    func string(_ name: String) throws -> String {
        guard let value = values[name] else { throw PeerError("--\(name) is required") }
        return value
    }

    func number(_ name: String, default fallback: Double) throws -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), value >= 0 else { throw PeerError("--\(name) must be a non-negative number, got \(text)") }
        return value
    }

    func count(_ name: String, default fallback: Int) throws -> Int {
        let value = try number(name, default: Double(fallback))
        guard value >= 1, value == value.rounded() else { throw PeerError("--\(name) must be a whole number ≥ 1, got \(value)") }
        return Int(value)
    }

    /// A Ripple node's HTTP API.
    func ripple(_ name: String) throws -> RipplePeer { RipplePeer(baseURL: try string(name), connections: 1024) }

    /// A server's processes, when the command line names them.
    func cpu(_ name: String, withChildren: Bool = false) throws -> ServerCPU? {
        try values[name].map { try ServerCPU($0, withChildren: withChildren) }
    }
}

/// Every peer a part made, shut down when it is done.
var peers: [RipplePeer] = []
@MainActor func peer(_ made: RipplePeer) -> RipplePeer {
    peers.append(made)
    return made
}

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let seconds = try options.number("seconds", default: 10)
    switch options.part {
    case "mutations":
        let part = MutationsPart(
            clients: try options.count("clients", default: 64), seconds: seconds,
            rippleCPU: try options.cpu("ripple-pid"), postgresCPU: try options.cpu("postgres-pid", withChildren: true))
        let sync = try RippleSyncPeer(baseURL: try options.string("ripple"), clients: part.clients)
        try await part.run(ripple: peer(try options.ripple("ripple")), sync: sync, postgres: try PostgresPeer(address: try options.string("postgres")))
        await sync.shutdown()
    case "transfers":
        let part = TransfersPart(
            clients: try options.count("clients", default: 50), seconds: seconds,
            accounts: try options.count("accounts", default: 100_000), hot: try options.count("hot", default: 10),
            hotShare: try options.number("hot-share", default: 0.8),
            rippleCPU: try options.cpu("ripple-pid"), postgresCPU: try options.cpu("postgres-pid", withChildren: true))
        let sync = try RippleSyncPeer(baseURL: try options.string("ripple"), clients: part.clients)
        try await part.run(ripple: peer(try options.ripple("ripple")), sync: sync, postgres: try PostgresPeer(address: try options.string("postgres")))
        await sync.shutdown()
    case "reactivity":
        try await ReactivityPart(
            subscribers: try options.count("subscribers", default: 1_000), channels: try options.count("channels", default: 100),
            rate: try options.number("rate", default: 100), seconds: seconds
        ).run(
            writer: peer(try options.ripple("ripple")), replica: peer(try options.ripple("replica")),
            rippleCPU: try ServerCPU(try options.string("ripple-pids")),
            postgres: try PostgresPeer(address: try options.string("postgres")),
            postgresCPU: try ServerCPU(try options.string("postgres-pid"), withChildren: true))
    case "reads":
        var nodes: [RipplePeer] = []
        for url in try options.string("nodes").split(separator: ",") { nodes.append(peer(RipplePeer(baseURL: String(url), connections: 1024))) }
        try await ReadsPart(clients: try options.count("clients", default: 64), seconds: seconds, accounts: try options.count("accounts", default: 10_000))
            .run(nodes: nodes, cpu: try ServerCPU(try options.string("pids")))
    case "seed":
        try await peer(try options.ripple("ripple")).seedAccounts(try options.count("accounts", default: 1_000_000))
    case "sync":
        try await SyncReplicationPart(clients: try options.count("clients", default: 64), seconds: seconds)
            .run(asynchronous: peer(try options.ripple("async")), synchronous: peer(try options.ripple("sync")))
    default:
        throw PeerError("unknown part \(options.part); expected mutations, transfers, reactivity, reads, sync or seed")
    }
    for ripple in peers { try await ripple.shutdown() }
} catch {
    FileHandle.standardError.write(Data("PeerBench: \(error)\n".utf8))
    exit(1)
}
