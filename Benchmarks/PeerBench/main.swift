import Foundation
import PostgresNIO

// The networked benchmarks of `scripts/bench`: one load generator drives Ripple (a bench-server
// node, HTTP API) and PostgreSQL (wire protocol, prepared statements) with the same workload.
//   PeerBench mutations --ripple URL --postgres HOST:PORT [--clients 64] [--seconds 10]
//   PeerBench transfers --ripple URL --postgres HOST:PORT [--clients 50] [--seconds 10]
//                       [--accounts 100000] [--hot 10] [--hot-share 0.8]

/// The command line: a part name and `--flag value` pairs.
struct Options {
    let part: String
    private var values: [String: String] = [:]

    init(_ arguments: [String]) throws {
        guard let part = arguments.first else { throw PeerError("usage: PeerBench mutations|transfers --ripple URL --postgres HOST:PORT [options]") }
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
}

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    let ripple = RipplePeer(baseURL: try options.string("ripple"), connections: 1024)
    let postgres = try PostgresPeer(address: try options.string("postgres"))
    switch options.part {
    case "mutations":
        try await MutationsPart(
            clients: Int(try options.number("clients", default: 64)), seconds: try options.number("seconds", default: 10)
        ).run(ripple: ripple, postgres: postgres)
    case "transfers":
        try await TransfersPart(
            clients: Int(try options.number("clients", default: 50)), seconds: try options.number("seconds", default: 10),
            accounts: Int(try options.number("accounts", default: 100_000)), hot: Int(try options.number("hot", default: 10)),
            hotShare: try options.number("hot-share", default: 0.8)
        ).run(ripple: ripple, postgres: postgres)
    default:
        throw PeerError("unknown part \(options.part); expected mutations or transfers")
    }
    try await ripple.shutdown()
} catch {
    FileHandle.standardError.write(Data("PeerBench: \(error)\n".utf8))
    exit(1)
}
