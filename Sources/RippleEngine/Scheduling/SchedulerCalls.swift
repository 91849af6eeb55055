import RippleValues

/// The arguments of one of the `_system/scheduler` functions: a Codable shape that both sides
/// use (the scheduler encodes it, the engine decodes it) and the validators the engine checks a
/// call against before the handler runs, so a malformed call fails naming the field instead of
/// being read as a default.
public protocol SchedulerRequest: Codable, Sendable {
    /// The function's argument validators (what `args:` is for an app's function).
    static var arguments: [String: Validator] { get }
}

/// Requests and replies of the `_system/scheduler` functions (`SchedulerFunctions` names them).
/// On the wire they are the same objects as before they had types: numbers are float64, an
/// absent optional is a missing field.
public enum SchedulerCall {
    /// `acquireLease`: asks for the lease, or renews it, for `durationMs` from the commit.
    public struct LeaseRequest: SchedulerRequest {
        public var holder: String
        public var durationMs: Double
        public static let arguments: [String: Validator] = ["holder": .string, "durationMs": .float64]

        public init(holder: String, durationMs: Double) {
            self.holder = holder
            self.durationMs = durationMs
        }
    }

    /// `acquireLease`'s answer: granted (a takeover when the lease was not already the asker's),
    /// or refused with who holds it until when.
    public struct LeaseReply: Codable, Sendable {
        public var granted: Bool
        public var takeover: Bool?
        public var epoch: Int64?
        /// When the lease ends, in milliseconds since the epoch (the writer's clock).
        public var expiresAt: Double
        public var holder: String
    }

    /// `releaseLease` and `failAbandonedActions`: only who asks.
    public struct HolderRequest: SchedulerRequest {
        public var holder: String
        public static let arguments: [String: Validator] = ["holder": .string]

        public init(holder: String) { self.holder = holder }
    }

    /// `runMutationJob` and `startActionJob`: one job, run by `holder`.
    public struct JobRequest: SchedulerRequest {
        public var holder: String
        public var id: String
        public static let arguments: [String: Validator] = ["holder": .string, "id": .string]

        public init(holder: String, id: String) {
            self.holder = holder
            self.id = id
        }
    }

    /// `finishJob`: the job leaves `from` for success, or for failed with `error`.
    public struct FinishJobRequest: SchedulerRequest {
        public var holder: String
        public var id: String
        public var from: JobState
        public var error: String?
        public static let arguments: [String: Validator] = [
            "holder": .string, "id": .string, "from": .union(JobState.allCases.map { .literal(.string($0.rawValue)) }),
            "error": .optional(.string),
        ]

        public init(holder: String, id: String, from: JobState, error: String?) {
            self.holder = holder
            self.id = id
            self.from = from
            self.error = error
        }
    }

    /// `deleteFinishedJobs`: jobs that finished before `before` (ms), at most `limit` (1–10,000;
    /// 500 when absent).
    public struct DeleteFinishedJobsRequest: SchedulerRequest {
        public var holder: String
        public var before: Double
        public var limit: Int?
        public static let arguments: [String: Validator] = ["holder": .string, "before": .float64, "limit": .optional(.float64)]

        public init(holder: String, before: Double, limit: Int?) {
            self.holder = holder
            self.before = before
            self.limit = limit
        }
    }

    /// One of the app's crons, as `syncCrons` stores it.
    public struct CronDefinition: Codable, Sendable {
        public var name: String
        /// `CronSchedule.value`.
        public var schedule: Value
        public var functionPath: String
        public var args: [String: Value]

        public init(name: String, schedule: Value, functionPath: String, args: [String: Value]) {
            self.name = name
            self.schedule = schedule
            self.functionPath = functionPath
            self.args = args
        }
    }

    /// `syncCrons`: the app's crons, which `_cron_jobs` is brought in line with.
    public struct SyncCronsRequest: SchedulerRequest {
        public var holder: String
        public var crons: [CronDefinition]
        public static let arguments: [String: Validator] = [
            "holder": .string,
            "crons": .array(.object(["name": .string, "schedule": .any, "functionPath": .string, "args": .any])),
        ]

        public init(holder: String, crons: [CronDefinition]) {
            self.holder = holder
            self.crons = crons
        }
    }

    /// `runCron`: the cron's run due at `nextRun` (ms), skipped unless that is still its next run.
    public struct RunCronRequest: SchedulerRequest {
        public var holder: String
        public var name: String
        public var nextRun: Double
        public static let arguments: [String: Validator] = ["holder": .string, "name": .string, "nextRun": .float64]

        public init(holder: String, name: String, nextRun: Double) {
            self.holder = holder
            self.name = name
            self.nextRun = nextRun
        }
    }

    /// `jobsInState`: a page of jobs in `state`, earliest due first, after `cursor`.
    public struct JobsInStateRequest: SchedulerRequest {
        public var state: JobState
        /// 1–10,000; 256 when absent.
        public var limit: Int?
        public var cursor: String?
        public static let arguments: [String: Validator] = [
            "state": .string, "limit": .optional(.float64), "cursor": .optional(.union([.string, .null])),
        ]

        public init(state: JobState, limit: Int?, cursor: String?) {
            self.state = state
            self.limit = limit
            self.cursor = cursor
        }
    }

    /// `jobsInState`'s page, as `paginate` returns it.
    public struct JobsPage: Codable, Sendable {
        public var page: [Value]
        public var isDone: Bool
        public var continueCursor: String?
    }

    /// What a job mutation did, with the counts of the ones that count something.
    public struct StatusReply: Codable, Sendable {
        public var status: SchedulerFunctions.Status
        /// `failAbandonedActions`: actions failed.
        public var failed: Int?
        /// `deleteFinishedJobs`: jobs deleted.
        public var deleted: Int?
        /// `syncCrons`: crons added, changed and removed.
        public var added: Int?
        public var changed: Int?
        public var removed: Int?

        public init(_ status: SchedulerFunctions.Status) { self.status = status }
    }
}

extension JobState: Codable {}
extension SchedulerFunctions.Status: Codable {}
