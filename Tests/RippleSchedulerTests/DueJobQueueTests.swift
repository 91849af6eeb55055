import RippleEngine
import RippleValues
import Testing

@testable import RippleScheduler

/// The dispatch loop's in-memory queue on its own: when it reads the index, and what it hands out.
@Suite struct DueJobQueueTests {
    private static func job(_ id: String, at scheduledTime: Double, action: Bool = false) -> ScheduledJob {
        ScheduledJob(
            Document(fields: [
                "_id": .string(id), "name": .string(action ? "jobs:anAction" : "jobs:aMutation"), "args": [[:]],
                "scheduledTime": .float64(scheduledTime), "state": ["kind": "pending"],
            ]))!
    }

    private static func kind(_ job: ScheduledJob) -> DueJobQueue.Kind { job.name == "jobs:anAction" ? .action : .mutation }

    private static func take(
        _ queue: inout DueJobQueue, _ page: [ScheduledJob], cursor: String?, read: DueJobQueue.Read, version: UInt64 = 0, now: Double = 100,
        running: Set<String> = []
    ) {
        queue.take(page, continueCursor: cursor, read: read, version: version, now: now, kind: kind, isRunning: running.contains)
    }

    private static func drain(_ queue: inout DueJobQueue, _ kind: DueJobQueue.Kind) -> [String] {
        var ids: [String] = []
        while let job = queue.next(kind) { ids.append(job.id) }
        return ids
    }

    @Test func aBacklogIsReadAPageAtATimeNotOnceAFinishedJob() {
        var queue = DueJobQueue(capacity: 100)
        #expect(queue.nextRead(version: 0, starving: [.mutation], now: 100) == .fromStart)
        Self.take(&queue, (0..<4).map { Self.job("j\($0)", at: 10) }, cursor: "after-j3", read: .fromStart)
        // Jobs finish and free slots while some are queued: nothing to read.
        #expect(queue.next(.mutation)?.id == "j0")
        #expect(queue.nextRead(version: 0, starving: [.mutation], now: 100) == nil)
        #expect(Self.drain(&queue, .mutation) == ["j1", "j2", "j3"])
        // Empty with a free slot: the next page, after the last one.
        #expect(queue.nextRead(version: 0, starving: [.mutation], now: 100) == .after("after-j3"))
        Self.take(&queue, [Self.job("j4", at: 10)], cursor: nil, read: .after("after-j3"))
        #expect(Self.drain(&queue, .mutation) == ["j4"])
        // The read reached the end: nothing more until a job is inserted.
        #expect(queue.nextRead(version: 0, starving: [.mutation, .action], now: 100) == nil)
        #expect(queue.nextRead(version: 1, starving: [.mutation], now: 100) == .fromStart)
        #expect(queue.pagesRead == 2)
    }

    @Test func anInsertedJobMakesTheNextReadStartOverAndReplaceTheQueue() {
        var queue = DueJobQueue(capacity: 100)
        Self.take(&queue, [Self.job("late-1", at: 50), Self.job("late-2", at: 50)], cursor: nil, read: .fromStart)
        // The queue could serve the free slot, but a job inserted since may be due before
        // everything queued.
        #expect(queue.nextRead(version: 1, starving: [.mutation], now: 100) == .fromStart)
        Self.take(&queue, [Self.job("early", at: 20), Self.job("late-1", at: 50), Self.job("late-2", at: 50)], cursor: nil, read: .fromStart, version: 1)
        #expect(Self.drain(&queue, .mutation) == ["early", "late-1", "late-2"])
    }

    @Test func aJobInsertedWhileTheReadRanMakesTheNextReadStartOver() {
        var queue = DueJobQueue(capacity: 100)
        // The read was asked for at version 0; a job was inserted (version 1) before it returned.
        Self.take(&queue, [Self.job("a", at: 10)], cursor: nil, read: .fromStart, version: 0)
        #expect(queue.nextRead(version: 1, starving: [.action], now: 100) == .fromStart)
    }

    @Test func nothingIsReadWhileEverySlotIsFullEvenAfterAnInsert() {
        var queue = DueJobQueue(capacity: 100)
        Self.take(&queue, [Self.job("a", at: 10), Self.job("later", at: 200)], cursor: nil, read: .fromStart, version: 0)
        // A read could start nothing; the slot that frees rings, and the read happens then.
        #expect(queue.nextRead(version: 1, starving: [], now: 300) == nil)
        #expect(queue.nextRead(version: 1, starving: [.mutation], now: 300) == .fromStart)
    }

    @Test func aJobNotYetDueIsReadOnceItIsDue() {
        var queue = DueJobQueue(capacity: 100)
        Self.take(&queue, [Self.job("now", at: 10), Self.job("later", at: 200)], cursor: "after-later", read: .fromStart)
        #expect(queue.nextDue == 200)
        #expect(Self.drain(&queue, .mutation) == ["now"])
        #expect(queue.nextRead(version: 0, starving: [.mutation], now: 199) == nil)
        #expect(queue.nextRead(version: 0, starving: [.mutation], now: 200) == .fromStart)
    }

    @Test func runningJobsAreNotQueuedAndEachKindHasItsOwnLine() {
        var queue = DueJobQueue(capacity: 100)
        let page = [
            Self.job("a1", at: 1, action: true), Self.job("m1", at: 2), Self.job("a2", at: 3, action: true), Self.job("m2", at: 4),
            Self.job("m3", at: 5),
        ]
        Self.take(&queue, page, cursor: nil, read: .fromStart, running: ["m1", "a1"])
        // Actions waiting for their slots do not hold the mutations back, nor the reverse.
        #expect(Self.drain(&queue, .mutation) == ["m2", "m3"])
        #expect(Self.drain(&queue, .action) == ["a2"])
    }

    @Test func aFullQueueReadsNoFurtherForTheOtherKind() {
        var queue = DueJobQueue(capacity: 3)
        Self.take(&queue, (0..<3).map { Self.job("a\($0)", at: 1, action: true) }, cursor: "after-a2", read: .fromStart)
        #expect(queue.nextRead(version: 0, starving: [.mutation], now: 100) == nil)
        _ = queue.next(.action)
        #expect(queue.nextRead(version: 0, starving: [.mutation], now: 100) == .after("after-a2"))
    }

    @Test func droppingTheQueueForgetsItsJobsAndReadsFromTheStart() {
        var queue = DueJobQueue(capacity: 100)
        Self.take(&queue, [Self.job("a", at: 1)], cursor: nil, read: .fromStart)
        queue.drop()
        #expect(queue.queued == 0)
        #expect(queue.nextRead(version: 0, starving: [.action], now: 100) == .fromStart)
    }
}
