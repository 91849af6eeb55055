import Crypto
import Foundation
import NIOCore
import RippleLog
import RippleStorage
import RippleValues
import Testing

@testable import RippleReplication

/// The seed corpora of the replication fuzz targets (`Fuzz/Corpus/Fuzz<Name>/`) come from the
/// real encoders, here. `RIPPLE_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzSeedTests` rewrites
/// them; every run checks that the checked-in seeds still decode, so a format change that
/// leaves them stale fails here instead of silently weakening the fuzzers.
@Suite struct FuzzSeedTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fuzz/Corpus").standardized

    static let writes: [[LogWrite]] = [
        [.document(tableNumber: 10001, number: 1, id: "k1", value: ValueCodec.encode(.object(["_id": .string("k1"), "body": .string("hi")])))],
        [
            .createTable(TableRecord(number: 10002, name: "messages")),
            .createIndex(IndexRecord(number: 7, tableNumber: 10002, name: "by_channel", fields: ["channel", "_creationTime"], state: .backfilling)),
            .setIndexState(number: 7, state: .ready),
        ],
        [.document(tableNumber: 10001, number: 1, id: "k1", value: nil), .dropIndex(number: 7)],
    ]

    static let messages: [ReplicationMessage] = [
        .hello(clusterID: "ripple", nodeID: "replica-1", appliedTimestamp: 1_700_000_000_000_000_000, nonce: Array(repeating: 0xC3, count: 32)),
        .challenge(nonce: Array(0..<32)),
        .proof(hmac: Array(repeating: 0x5A, count: 32)),
        .accepted(latestTimestamp: 1_700_000_000_000_000_500, proof: Array(repeating: 0x33, count: 32)),
        .refused(reason: "refused"),
        .commits(previousTimestamp: 100, commits: zip([101, 102, 150] as [CommitTimestamp], writes).map { Commit(ts: $0, writes: $1) }),
        .heartbeat(latestTimestamp: 150),
        .ack(appliedTimestamp: 150),
        .snapshotBegin(ts: 150, totalBytes: 4_096),
        .snapshotChunk(offset: 0, bytes: Array(repeating: 7, count: 600)),
        .snapshotEnd(sha256: Array(SHA256.hash(data: [1, 2, 3]))),
        .forward(requestID: 1, payload: Array("{\"path\":\"messages:send\"}".utf8)),
        .forwardResult(requestID: 1, payload: Array("{\"ok\":1}".utf8)),
    ]

    /// Every seed, by target.
    static func seeds() throws -> [String: [[UInt8]]] {
        let kinds = LogFrame.Kind.allCases
        var frames: [[UInt8]] = []
        for message in messages where [.hello, .proof, .accepted].contains(message.kind) {
            frames.append([1] + frameBytes(message.frame()))
        }
        for message in messages where [.commits, .heartbeat, .snapshotChunk, .forward].contains(message.kind) {
            frames.append([0] + frameBytes(message.frame()))
            var tagged = message.frame()
            tagged.tag = Array(repeating: 0xEE, count: FrameAuthenticator.tagLength)
            frames.append([0] + frameBytes(tagged))
        }
        frames.append([0] + messages.flatMap { frameBytes($0.frame()) })
        return [
            "FuzzCommitCodec": writes.map(CommitCodec.encode),
            "FuzzReplicationMessage": messages.map { message in
                var payload = message.frame().payload
                return [UInt8(kinds.firstIndex(of: message.kind)!)] + payload.readBytes(length: payload.readableBytes)!
            },
            "FuzzLogFrame": frames,
            "FuzzSnapshot": [try snapshotBytes()],
        ]
    }

    static func frameBytes(_ frame: LogFrame) -> [UInt8] {
        var out = ByteBuffer()
        try! LogFrameEncoder.encode(frame, into: &out)
        return out.readBytes(length: out.readableBytes)!
    }

    /// A real snapshot of a small database built from `writes`.
    static func snapshotBytes() throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ripple-fuzz-seeds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try Store(database: Database(path: directory.appendingPathComponent("db.sqlite3").path))
        try store.database.transaction {
            _ = try store.apply(Commit(ts: 1, writes: writes[1]))
            let message = ValueCodec.encode(.object(["_id": .string("m2"), "channel": .string("c")]))
            _ = try store.apply(Commit(ts: 2, writes: [writes[0][0], .document(tableNumber: 10002, number: 2, id: "m2", value: message)]))
        }
        return try store.encodeSnapshot().bytes
    }

    /// Whether `bytes` get past the decoder of `target`: seeds that are rejected at once teach a
    /// fuzzer nothing.
    static func decodes(_ bytes: [UInt8], in target: String) -> Bool {
        switch target {
        case "FuzzCommitCodec": return (try? CommitCodec.decode(bytes)) != nil
        case "FuzzSnapshot": return (try? SnapshotCodec.decode(bytes)) != nil
        case "FuzzReplicationMessage":
            let kind = LogFrame.Kind.allCases[Int(bytes[0]) % LogFrame.Kind.allCases.count]
            return (try? ReplicationMessage(frame: LogFrame(kind: kind, payload: ByteBuffer(bytes: bytes.dropFirst())))) != nil
        case "FuzzLogFrame":
            var stream = ByteBuffer(bytes: bytes.dropFirst())
            let limits: LogFrameDecoder.Limits = bytes[0] & 1 == 0 ? .open(maxFrameSize: 1 << 20) : .handshake(maxFrameSize: 1 << 16)
            return (try? LogFrameDecoder.decodeFrame(from: &stream, limits: limits, allocator: ByteBufferAllocator())) != nil
        default: return false
        }
    }

    @Test func checkedInSeedsStillDecode() throws {
        if ProcessInfo.processInfo.environment["RIPPLE_WRITE_FUZZ_SEEDS"] == "1" {
            for (target, seeds) in try Self.seeds() {
                let directory = Self.corpus.appendingPathComponent(target)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for seed in seeds {
                    let name = Insecure.SHA1.hash(data: seed).map { String(format: "%02x", $0) }.joined()
                    try Data(seed).write(to: directory.appendingPathComponent(name))
                }
            }
        }
        for target in ["FuzzCommitCodec", "FuzzReplicationMessage", "FuzzLogFrame", "FuzzSnapshot"] {
            let directory = Self.corpus.appendingPathComponent(target)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            #expect(!files.isEmpty, "no seeds for \(target)")
            for file in files {
                let bytes = Array(try Data(contentsOf: directory.appendingPathComponent(file)))
                #expect(Self.decodes(bytes, in: target), "\(target)/\(file) no longer decodes")
            }
        }
    }
}
