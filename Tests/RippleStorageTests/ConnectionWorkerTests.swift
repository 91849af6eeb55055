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

    @Test func stoppingAWorkerThatNeverStartedReturnsAtOnce() {
        let worker = ConnectionWorker<Int>(name: "test-worker")
        worker.stop()
        #expect(worker.submit(1) == false)
    }
}
