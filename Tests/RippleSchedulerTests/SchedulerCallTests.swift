import RippleEngine
import RippleValues
import Testing

/// The `_system/scheduler` functions take typed requests: a call missing a field or carrying
/// one it does not know is refused before the handler runs (they used to read a missing field
/// as a default and ignore unknown ones), and replies decode into their types.
@Suite struct SchedulerCallTests {
    @Test func aCallMissingAFieldIsRefusedNamingIt() async throws {
        let h = try SchedulerHarness()
        await #expect {
            _ = try await h.system(SchedulerFunctions.runCron, ["holder": "s", "name": "tick"])
        } throws: { error in
            guard let error = error as? FunctionError else { return false }
            return error.kind == .invalidArguments
                && error.message.hasPrefix("ArgumentValidationError for _system/scheduler:runCron: ")
                && error.message.contains("nextRun")
        }
        await h.stop()
    }

    @Test func aCallWithAnUnknownFieldIsRefused() async throws {
        let h = try SchedulerHarness()
        await #expect {
            _ = try await h.system(SchedulerFunctions.runMutationJob, ["holder": "s", "id": "x", "delayMs": 5])
        } throws: { error in
            guard let error = error as? FunctionError else { return false }
            return error.kind == .invalidArguments && error.message.contains("delayMs")
        }
        await h.stop()
    }

    @Test func leaseAndStatusRepliesDecodeIntoTheirTypes() async throws {
        let h = try SchedulerHarness()
        let request = try ValueEncoder().encode(SchedulerCall.LeaseRequest(holder: "s", durationMs: 60_000))
        let lease = try ValueDecoder().decode(SchedulerCall.LeaseReply.self, from: try await h.system(SchedulerFunctions.acquireLease, request.objectValue!))
        #expect(lease.granted && lease.takeover == true && lease.epoch == 1 && lease.holder == "s")
        let sweep = try ValueDecoder().decode(
            SchedulerCall.StatusReply.self, from: try await h.system(SchedulerFunctions.failAbandonedActions, ["holder": "s"]))
        #expect(sweep.status == .done)
        #expect(sweep.failed == 0)
        await h.stop()
    }
}
