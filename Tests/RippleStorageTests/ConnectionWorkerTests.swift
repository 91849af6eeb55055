import Foundation
import RippleStorage
import Synchronization
import Testing

/// The one queue behind every thread that owns a connection: batches in submission order, a
/// deadline that ends a wait, and a stop that drains before it joins.
@Suite struct ConnectionWorkerTests {
    @Test func batchesComeInSubmissionOrderAndStopDrainsTheQueueFirst() {
        let worker = ConnectionWorker<Int>(name: "test-worker")
        let batches = Mutex<[[Int]]>([])
        // Queued before the thread starts, so the first take sees all of them at once.
        for item in 1...5 { #expect(worker.submit(item)) }
        worker.start {
            while let batch = worker.next(upTo: 2) { batches.withLock { $0.append(batch) } }
        }
        worker.stop()
        #expect(batches.withLock { $0 } == [[1, 2], [3, 4], [5]])
        #expect(worker.submit(6) == false)
    }

    @Test func aDeadlineEndsAWaitWithAnEmptyBatchAndStopEndsItWithNil() {
        let worker = ConnectionWorker<Int>(name: "test-worker")
        let answers = Mutex<[[Int]?]>([])
        let firstAnswered = DispatchSemaphore(value: 0)
        worker.start {
            answers.withLock { $0.append(worker.next(until: Date(timeIntervalSinceNow: 0.01))) }
            firstAnswered.signal()
            answers.withLock { $0.append(worker.next()) }
        }
        // Stopping only after the deadline answered; the second `next` has no deadline, so only
        // the stop ends it.
        firstAnswered.wait()
        worker.stop()
        #expect(answers.withLock { $0 } == [[], nil])
    }

    /// A reader's last reference can go on its own thread; `finish` there must not wait for
    /// itself, and the work queued before it still runs.
    @Test func finishOnTheWorkersOwnThreadLetsQueuedWorkRunAndRefusesLaterWork() {
        let worker = ConnectionWorker<@Sendable () -> Void>(name: "test-worker")
        let ran = Mutex<[Int]>([])
        #expect(worker.submit {
            ran.withLock { $0.append(1) }
            worker.finish()
        })
        #expect(worker.submit { ran.withLock { $0.append(2) } })
        worker.startRunningSubmittedWork()
        worker.stop()
        #expect(ran.withLock { $0 } == [1, 2])
        #expect(worker.submit { ran.withLock { $0.append(3) } } == false)
    }

    #if os(Linux)
    /// Profiles and `top -H` tell the committer from the pool threads by this name; the kernel
    /// keeps its first 15 bytes.
    @Test func theThreadCarriesItsNameWhereTheKernelShowsIt() {
        let worker = ConnectionWorker<@Sendable () -> Void>(name: "ripple-committer")
        let seen = Mutex<String?>(nil)
        #expect(worker.submit { seen.withLock { $0 = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8) } })
        worker.startRunningSubmittedWork()
        worker.stop()
        #expect(seen.withLock { $0 } == "ripple-committe\n")
    }
    #endif

    @Test func stoppingAWorkerThatNeverStartedReturnsAtOnce() {
        let worker = ConnectionWorker<Int>(name: "test-worker")
        worker.stop()
        #expect(worker.submit(1) == false)
    }
}
