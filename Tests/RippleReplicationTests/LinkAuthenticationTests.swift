import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RippleReplication

/// The whole pipeline on `EmbeddedChannel`s: what an unauthenticated peer can make a link do
/// before the handshake (issue 11 #1), and the per-frame tags after it (#9).
@Suite struct LinkAuthenticationTests {
    static let writerToReplica = Array(repeating: UInt8(0x11), count: 32)
    static let replicaToWriter = Array(repeating: UInt8(0x22), count: 32)
    static let writerKeys = LinkKeys(sending: writerToReplica, receiving: replicaToWriter)
    static let replicaKeys = LinkKeys(sending: replicaToWriter, receiving: writerToReplica)

    /// A link as the writer holds it, opened with `writerKeys`.
    func openWriterLink() throws -> EmbeddedChannel {
        let channel = try makeAuthenticatedLinkChannel()
        try channel.pipeline.triggerUserOutboundEvent(Self.writerKeys).wait()
        return channel
    }

    /// What a replica link opened with `keys` sends for `messages`.
    func bytesSent(_ messages: [ReplicationMessage], keys: LinkKeys = replicaKeys) throws -> [UInt8] {
        let channel = try makeAuthenticatedLinkChannel()
        try channel.pipeline.triggerUserOutboundEvent(keys).wait()
        var bytes: [UInt8] = []
        for message in messages {
            try channel.writeOutbound(message)
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        }
        return bytes
    }

    func expectFailure(_ channel: EmbeddedChannel, _ bytes: [UInt8], _ expected: ReplicationError, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: expected, sourceLocation: sourceLocation) { try channel.writeInbound(ByteBuffer(bytes: bytes)) }
        #expect(!channel.isActive, "link left open", sourceLocation: sourceLocation)
    }

    // MARK: - Before the handshake

    /// Issue 11 #1: a `commits` frame whose record holds a 10-byte varint trapped the writer
    /// before any authentication. It is now refused from its header, before it is even buffered.
    @Test func aCommitsFrameBeforeTheHandshakeIsRefusedFromItsHeader() throws {
        let record: [UInt8] = [1, 1, 10, 1] + Array(repeating: 0xFF, count: 9) + [0x01]
        var payload = ByteBuffer()
        payload.writeInteger(UInt64(0))
        payload.writeInteger(UInt32(1))
        payload.writeInteger(UInt64(5))
        payload.writeInteger(UInt32(record.count))
        payload.writeBytes(record)
        let frame = rawFrame(type: LogFrame.Kind.commits.rawValue, payload: Array(payload.readableBytesView))
        expectFailure(try makeAuthenticatedLinkChannel(), Array(frame.prefix(5)), .unexpectedMessage("commits before the handshake finished"))
    }

    @Test func everyNonHandshakeKindIsRefusedBeforeTheHandshake() throws {
        for kind in LogFrame.Kind.allCases where !kind.isHandshake {
            expectFailure(
                try makeAuthenticatedLinkChannel(), rawFrame(type: kind.rawValue, payload: []),
                .unexpectedMessage("\(kind) before the handshake finished"))
        }
    }

    @Test func handshakeFramesAreCappedAt64KiB() throws {
        var header = ByteBuffer()
        header.writeInteger(UInt32(LogFrame.defaultMaxHandshakeFrameSize + 1))
        header.writeInteger(LogFrame.Kind.hello.rawValue)
        expectFailure(
            try makeAuthenticatedLinkChannel(), Array(header.readableBytesView),
            .frameTooLarge(size: LogFrame.defaultMaxHandshakeFrameSize + 1, limit: LogFrame.defaultMaxHandshakeFrameSize))
    }

    @Test func compressedOrTaggedHandshakeFramesAreRefused() throws {
        for flag in [LogFrame.compressedFlag, LogFrame.taggedFlag] {
            expectFailure(
                try makeAuthenticatedLinkChannel(), rawFrame(type: LogFrame.Kind.hello.rawValue | flag, payload: Array(repeating: 0, count: 20)),
                .unexpectedMessage("hello before the handshake finished"))
        }
    }

    @Test func handshakeMessagesPassBeforeTheHandshake() throws {
        let hello = ReplicationMessage.hello(clusterID: "c", nodeID: "n", appliedTimestamp: 1, nonce: Array(repeating: 1, count: 32))
        let channel = try makeAuthenticatedLinkChannel()
        try channel.writeInbound(ByteBuffer(bytes: try encodedBytes([hello])))
        #expect(try channel.readInbound(as: ReplicationMessage.self) == hello)
    }

    @Test func aHandshakeThatDoesNotFinishInTimeClosesTheLink() throws {
        let channel = try makeAuthenticatedLinkChannel(configuration: .init(readTimeout: .hours(1), handshakeTimeout: .seconds(5)))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4_999))
        try channel.throwIfErrorCaught()
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(throws: ReplicationError.handshakeTimedOut) { try channel.throwIfErrorCaught() }
        #expect(!channel.isActive)
    }

    @Test func anOpenedLinkHasNoHandshakeDeadline() throws {
        let opened = Mutex(0)
        let channel = try makeAuthenticatedLinkChannel(configuration: .init(readTimeout: .hours(1), handshakeTimeout: .seconds(5))) {
            opened.withLock { $0 += 1 }
        }
        try channel.pipeline.triggerUserOutboundEvent(Self.writerKeys).wait()
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        try channel.throwIfErrorCaught()
        #expect(channel.isActive)
        #expect(opened.withLock { $0 } == 1)
    }

    // MARK: - After the handshake

    @Test func taggedFramesPassAndLargeOnesStillCompress() throws {
        let messages: [ReplicationMessage] = [
            .ack(appliedTimestamp: 7),
            .forward(requestID: 1, payload: Array(repeating: 0xAB, count: 3_000)),
            .ack(appliedTimestamp: 9),
        ]
        let bytes = try bytesSent(messages)
        #expect(bytes[4] == LogFrame.Kind.ack.rawValue | LogFrame.taggedFlag)
        #expect(bytes.count < 3_000)
        let channel = try openWriterLink()
        try channel.writeInbound(ByteBuffer(bytes: bytes))
        for message in messages { #expect(try channel.readInbound(as: ReplicationMessage.self) == message) }
    }

    @Test func anUntaggedFrameAfterTheHandshakeIsRefused() throws {
        expectFailure(try openWriterLink(), try encodedBytes([.ack(appliedTimestamp: 7)]), .frameNotAuthenticated)
    }

    @Test func aFrameTaggedWithAnotherKeyIsRefused() throws {
        let forged = try bytesSent([.forward(requestID: 1, payload: [1])], keys: LinkKeys(sending: Array(repeating: 0x99, count: 32), receiving: []))
        expectFailure(try openWriterLink(), forged, .frameNotAuthenticated)
    }

    @Test func aFrameSentBackToItsSenderIsRefused() throws {
        let reflected = try bytesSent([.ack(appliedTimestamp: 7)], keys: Self.writerKeys)
        expectFailure(try openWriterLink(), reflected, .frameNotAuthenticated)
    }

    @Test func aReplayedFrameIsRefused() throws {
        let ack = try bytesSent([.ack(appliedTimestamp: 7)])
        let channel = try openWriterLink()
        try channel.writeInbound(ByteBuffer(bytes: ack))
        #expect(try channel.readInbound(as: ReplicationMessage.self) == .ack(appliedTimestamp: 7))
        expectFailure(channel, ack, .frameNotAuthenticated)
    }

    @Test func reorderedFramesAreRefused() throws {
        let first = try bytesSent([.ack(appliedTimestamp: 7)])
        let both = try bytesSent([.ack(appliedTimestamp: 7), .ack(appliedTimestamp: 8)])
        let second = Array(both[first.count...])
        expectFailure(try openWriterLink(), second + first, .frameNotAuthenticated)
    }

    @Test func aTamperedPayloadWithAFixedChecksumIsRefused() throws {
        var bytes = try bytesSent([.ack(appliedTimestamp: 7)])
        // Change the timestamp and recompute the CRC, as an attacker on the path can.
        bytes[9 + 7] ^= 0x01
        var crc = CRC32C()
        crc.update(byte: bytes[4])
        crc.update(Array(bytes[9...]))
        withUnsafeBytes(of: crc.value.bigEndian) { bytes.replaceSubrange(5..<9, with: $0) }
        expectFailure(try openWriterLink(), bytes, .frameNotAuthenticated)
    }
}
