import NIOCore
import NIOEmbedded
import RippleLog
import Testing

@testable import RippleReplication

@Suite struct LogFrameCodecTests {
    static let small: [ReplicationMessage] = [
        .hello(clusterID: "prod", nodeID: "replica-1", appliedTimestamp: 42, nonce: Array(repeating: 9, count: 32)),
        .heartbeat(latestTimestamp: 99),
        .forward(requestID: 7, payload: [1, 2, 3]),
    ]

    static let large: [ReplicationMessage] = [
        .commits(previousTimestamp: 10, commits: makeCommits(count: 30, after: 10)),
        .forwardResult(requestID: 9, payload: Array(repeating: 0xAB, count: 3_000)),
    ]

    @Test func smallFramesAreNotCompressed() throws {
        let bytes = try encodedBytes([.heartbeat(latestTimestamp: 5)])
        #expect(bytes.count == 4 + 1 + 4 + 8)
        #expect(Array(bytes[0..<4]) == [0, 0, 0, 13])
        #expect(bytes[4] == LogFrame.Kind.heartbeat.rawValue)
        #expect(try decodeMessages([bytes[...]]) == [.heartbeat(latestTimestamp: 5)])
    }

    @Test func largeCompressibleFramesAreCompressed() throws {
        for message in Self.large {
            let bytes = try encodedBytes([message])
            #expect(bytes[4] == message.kind.rawValue | LogFrame.compressedFlag)
            #expect(bytes.count < message.frame().payload.readableBytes)
            #expect(try decodeMessages([bytes[...]]) == [message])
        }
    }

    @Test func incompressiblePayloadsTravelUncompressed() throws {
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<2_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let message = ReplicationMessage.snapshotChunk(offset: 0, bytes: noise)
        let bytes = try encodedBytes([message])
        #expect(bytes[4] == LogFrame.Kind.snapshotChunk.rawValue)
        #expect(try decodeMessages([bytes[...]]) == [message])
    }

    @Test func decodesAcrossEverySplitPoint() throws {
        let messages = Self.small + Self.large
        let bytes = try encodedBytes(messages)
        for split in 0...bytes.count {
            #expect(try decodeMessages([bytes[..<split], bytes[split...]]) == messages, "split at \(split)")
        }
    }

    @Test func decodesByteByByte() throws {
        let messages = Self.small + Self.large
        let bytes = try encodedBytes(messages)
        #expect(try decodeMessages(bytes.indices.map { bytes[$0...$0] }) == messages)
    }

    @Test func decodesManyFramesInOneRead() throws {
        let messages = (1...200).map { ReplicationMessage.ack(appliedTimestamp: CommitTimestamp(nanoseconds: UInt64($0))) }
        #expect(try decodeMessages([try encodedBytes(messages)[...]]) == messages)
    }

    @Test func corruptedPayloadClosesTheLink() throws {
        for message in [Self.small[0], Self.large[0]] {
            var bytes = try encodedBytes([message])
            bytes[bytes.count - 3] ^= 0x01
            try expectLinkFailure(bytes) { error in
                if case .checksumMismatch = error { return true }
                return false
            }
        }
    }

    @Test func corruptedTypeByteClosesTheLink() throws {
        var bytes = try encodedBytes([.ack(appliedTimestamp: 3)])
        bytes[4] = LogFrame.Kind.heartbeat.rawValue
        try expectLinkFailure(bytes) { error in
            if case .checksumMismatch = error { return true }
            return false
        }
    }

    @Test func oversizeFrameIsRefusedFromItsHeader() throws {
        let channel = try makeLinkChannel(configuration: .init(maxFrameSize: 1_024, readTimeout: .hours(1)))
        var header = ByteBuffer()
        header.writeInteger(UInt32(1_025))
        #expect(throws: ReplicationError.frameTooLarge(size: 1_025, limit: 1_024)) { try channel.writeInbound(header) }
        #expect(!channel.isActive)
    }

    @Test func oversizeDecompressedPayloadIsRefused() throws {
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(10_000))
        payload.writeBytes([0x1F, 0, 1, 0])
        let bytes = rawFrame(type: LogFrame.Kind.forward.rawValue | LogFrame.compressedFlag, payload: Array(payload.readableBytesView))
        let channel = try makeLinkChannel(configuration: .init(maxFrameSize: 1_024, readTimeout: .hours(1)))
        #expect(throws: ReplicationError.frameTooLarge(size: 10_000, limit: 1_024)) { try channel.writeInbound(ByteBuffer(bytes: bytes)) }
        #expect(!channel.isActive)
    }

    @Test func encoderRefusesFramesAboveTheLimit() throws {
        var out = ByteBuffer()
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<2_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(throws: ReplicationError.self) {
            try LogFrameEncoder.encode(ReplicationMessage.snapshotChunk(offset: 0, bytes: noise).frame(), into: &out, maxFrameSize: 1_024)
        }
        #expect(out.readableBytes == 0)
    }

    @Test func unknownTypeClosesTheLink() throws {
        try expectLinkFailure(rawFrame(type: 99, payload: [1, 2, 3])) { $0 == .unknownFrameType(99) }
        try expectLinkFailure(rawFrame(type: 0, payload: [])) { $0 == .unknownFrameType(0) }
    }

    @Test func badLZ4ClosesTheLink() throws {
        var payload = ByteBuffer()
        payload.writeInteger(UInt32(600))
        payload.writeBytes([0xF0, 0xFF, 0xFF, 0xFF, 0x00, 0x01])
        let bytes = rawFrame(type: LogFrame.Kind.forward.rawValue | LogFrame.compressedFlag, payload: Array(payload.readableBytesView))
        try expectLinkFailure(bytes) { error in
            if case .malformedFrame = error { return true }
            return false
        }
    }

    @Test func frameShorterThanItsHeaderClosesTheLink() throws {
        try expectLinkFailure([0, 0, 0, 2, 1, 2]) { error in
            if case .malformedFrame = error { return true }
            return false
        }
    }

    @Test func malformedPayloadClosesTheLink() throws {
        try expectLinkFailure(rawFrame(type: LogFrame.Kind.ack.rawValue, payload: [1, 2, 3])) { error in
            if case .malformedMessage = error { return true }
            return false
        }
    }

    @Test func silentPeerTimesOut() throws {
        let channel = try makeLinkChannel(configuration: .init(readTimeout: .seconds(10)))
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        try channel.throwIfErrorCaught()
        try channel.writeInbound(ByteBuffer(bytes: try encodedBytes([.heartbeat(latestTimestamp: 1)])))
        channel.read()
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        try channel.throwIfErrorCaught()
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(throws: ReplicationError.timedOut) { try channel.throwIfErrorCaught() }
        #expect(!channel.isActive)
    }

    @Test func noTimeoutWhileNoReadIsRequested() throws {
        let channel = try makeLinkChannel(configuration: .init(readTimeout: .seconds(10)))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        try channel.throwIfErrorCaught()
        #expect(channel.isActive)
    }

    private func expectLinkFailure(
        _ bytes: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation,
        _ matches: (ReplicationError) -> Bool
    ) throws {
        let channel = try makeLinkChannel()
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            Issue.record("no error for a bad frame", sourceLocation: sourceLocation)
        } catch let error as ReplicationError {
            #expect(matches(error), "unexpected error \(error)", sourceLocation: sourceLocation)
        }
        #expect(try channel.readInbound(as: ReplicationMessage.self) == nil, sourceLocation: sourceLocation)
        #expect(!channel.isActive, "link left open", sourceLocation: sourceLocation)
    }
}
