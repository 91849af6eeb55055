import NIOCore
import NIOEmbedded
import RippleStorage
import Testing

@testable import RippleReplication

/// `LiveTail` on an `EmbeddedChannel`: what goes out, in which order, and when it hands the
/// position back to the log reader.
@Suite struct LiveTailTests {
    func sent(_ channel: EmbeddedChannel) throws -> [ReplicationMessage] {
        var out: [ReplicationMessage] = []
        while let message = try channel.readOutbound(as: ReplicationMessage.self) { out.append(message) }
        return out
    }

    @Test func groupsCommittedWhileCatchingUpGoOutOnceWhenLive() throws {
        let channel = EmbeddedChannel()
        let tail = LiveTail(channel: channel, maxKept: 100)
        let commits = makeCommits(count: 6, after: 100)
        // The log read saw the first four; the listener delivered 3...6 meanwhile.
        var stream = WriterStream(appliedTimestamp: 100)
        _ = try stream.messages(for: Array(commits[0..<4]))
        tail.committed(Array(commits[2..<4]))
        tail.committed(Array(commits[4..<6]))
        #expect(try sent(channel).isEmpty)

        #expect(try tail.goLive(stream))
        #expect(try sent(channel) == [.commits(previousTimestamp: commits[3].ts, commits: Array(commits[4..<6]))])

        let next = makeCommits(count: 2, after: commits[5].ts)
        tail.committed(next)
        #expect(try sent(channel) == [.commits(previousTimestamp: commits[5].ts, commits: next)])
    }

    @Test func tooManyCommitsWhileCatchingUpMeansReadTheLogAgain() throws {
        let channel = EmbeddedChannel()
        let tail = LiveTail(channel: channel, maxKept: 3)
        tail.committed(makeCommits(count: 4, after: 100))
        #expect(try tail.goLive(WriterStream(appliedTimestamp: 100)) == false)
        #expect(try tail.goLive(WriterStream(appliedTimestamp: 128)))
        #expect(try sent(channel).isEmpty)
    }

    @Test func anUnwritableChannelHandsThePositionBackToTheLogReader() async throws {
        let channel = EmbeddedChannel()
        let tail = LiveTail(channel: channel, maxKept: 100)
        #expect(try tail.goLive(WriterStream(appliedTimestamp: 100)))
        let first = makeCommits(count: 2, after: 100)
        tail.committed(first)
        #expect(try sent(channel).count == 1)

        channel.isWritable = false
        tail.committed(makeCommits(count: 2, after: first[1].ts))
        guard case .readLog(let stream) = await tail.waitWhileLive(timeout: .seconds(30)) else {
            Issue.record("expected the tail to fall behind")
            return
        }
        #expect(stream.sentTimestamp == first[1].ts)
        #expect(try sent(channel).isEmpty)
    }

    @Test func whileLiveItHeartbeatsAtTheLivePosition() async throws {
        let channel = EmbeddedChannel()
        let tail = LiveTail(channel: channel, maxKept: 100)
        #expect(try tail.goLive(WriterStream(appliedTimestamp: 100)))
        guard case .live = await tail.waitWhileLive(timeout: .milliseconds(10)) else {
            Issue.record("expected the tail to stay live")
            return
        }
        #expect(try sent(channel) == [.heartbeat(latestTimestamp: 100)])
        tail.close()
        guard case .closed = await tail.waitWhileLive(timeout: .seconds(30)) else {
            Issue.record("expected the tail to be closed")
            return
        }
    }
}
