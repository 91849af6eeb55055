import Dispatch
import NIOCore

/// Runs `whileHeld` with `loop` blocked, then `release` on the loop just before it is let go:
/// for stopping a server on that loop while clients wait in the kernel's accept queue, so that it
/// accepts them as its accept loop is already ending. The loop is let go even if `whileHeld`
/// throws (a failed connect), so a failing test cannot leave it blocked and hang.
public func withEventLoopHeld<Result>(
    _ loop: any EventLoop, releasing release: @escaping @Sendable () -> Void, isolation: isolated (any Actor)? = #isolation,
    _ whileHeld: () async throws -> Result
) async throws -> Result {
    let letGo = DispatchSemaphore(value: 0)
    // Resumed by a continuation: awaiting a future of the held loop would need the loop.
    await withCheckedContinuation { held in
        loop.execute {
            held.resume()
            letGo.wait()
            release()
        }
    }
    defer { letGo.signal() }
    return try await whileHeld()
}
