import RippleValues

/// When a cron job runs. All times are UTC; timestamps are milliseconds since the Unix epoch
/// (`Double`), as Convex uses, so a schedule means the same thing on every node whatever its zone.
public enum CronSchedule: Sendable, Equatable {
    /// Every `seconds` (whole seconds ≥ 1), on a grid aligned to the Unix epoch, so "every 5
    /// minutes" runs at :00, :05, … and every node computes the same run times.
    case interval(seconds: Int)
    /// Every hour at `minuteUTC`.
    case hourly(minuteUTC: Int)
    /// Every day at `hourUTC:minuteUTC`.
    case daily(hourUTC: Int, minuteUTC: Int)
    /// Every week on `dayOfWeek` at `hourUTC:minuteUTC`.
    case weekly(dayOfWeek: Weekday, hourUTC: Int, minuteUTC: Int)
    /// Every month on `day` (1...31) at `hourUTC:minuteUTC`. A month without that day has no run
    /// (day 31 skips April, June, …; day 29 runs in February only in leap years), as in cron:
    /// moving the run to the month's last day would make two schedules collide on one date.
    case monthly(day: Int, hourUTC: Int, minuteUTC: Int)
    /// A 5-field cron expression.
    case cron(CronExpression)

    /// The first run time strictly after `ms`, so a run at exactly `ms` is not run twice.
    /// `.infinity` when there is none: an invalid schedule (see `validate()`), or `ms` at or
    /// beyond the end of JavaScript dates (8.64e15) or NaN.
    public func nextRun(after ms: Double) -> Double {
        switch self {
        case .interval(let seconds):
            guard seconds >= 1, let t = EpochMilliseconds(ms) else { return .infinity }
            let (period, overflow) = Int64(seconds).multipliedReportingOverflow(by: 1000)
            guard !overflow else { return .infinity }
            let (next, overflow2) = (floorDivide(t.value, period) + 1).multipliedReportingOverflow(by: period)
            guard !overflow2, next < EpochMilliseconds.end else { return .infinity }
            return Double(next)
        case .cron(let expression):
            return expression.nextRun(after: ms)
        default:
            guard (try? validate()) != nil, let fields = CronFields(self) else { return .infinity }
            return fields.nextRun(after: ms)
        }
    }

    /// Checks the ranges (minute 0-59, hour 0-23, day 1-31, seconds ≥ 1), so a typo fails when the
    /// crons are declared rather than silently never running.
    public func validate() throws(CronError) {
        try validate(job: nil)
    }

    /// `validate()`, naming the cron job in the message when there is one.
    func validate(job: String?) throws(CronError) {
        func fail(_ detail: String) -> CronError {
            CronError(message: "Invalid \(kind) schedule\(jobClause(job)): \(detail)")
        }
        func check(_ field: String, _ value: Int, _ range: ClosedRange<Int>) throws(CronError) {
            guard range.contains(value) else {
                throw fail("\(field) \(value) is out of range \(range.lowerBound)-\(range.upperBound)")
            }
        }
        switch self {
        case .interval(let seconds):
            guard seconds >= 1 else { throw fail("the interval must be at least 1 second, got \(seconds) seconds") }
        case .hourly(let minute):
            try check("minuteUTC", minute, 0...59)
        case .daily(let hour, let minute), .weekly(_, let hour, let minute):
            try check("hourUTC", hour, 0...23)
            try check("minuteUTC", minute, 0...59)
        case .monthly(let day, let hour, let minute):
            try check("day", day, 1...31)
            try check("hourUTC", hour, 0...23)
            try check("minuteUTC", minute, 0...59)
        case .cron:
            break  // A `CronExpression` is checked when it is parsed.
        }
    }

    /// The name of the case, as stored in `type`.
    private var kind: String {
        switch self {
        case .interval: "interval"
        case .hourly: "hourly"
        case .daily: "daily"
        case .weekly: "weekly"
        case .monthly: "monthly"
        case .cron: "cron"
        }
    }
}

// MARK: - Stored form

extension CronSchedule {
    /// The schedule as a Convex value for the `_cron_jobs` system table: an object with a `type`
    /// and the case's fields, integers as `int64` (`{type: "daily", hourUTC: 6n, minuteUTC: 0n}`).
    public var value: Value {
        switch self {
        case .interval(let seconds):
            return ["type": "interval", "seconds": .int64(Int64(seconds))]
        case .hourly(let minute):
            return ["type": "hourly", "minuteUTC": .int64(Int64(minute))]
        case .daily(let hour, let minute):
            return ["type": "daily", "hourUTC": .int64(Int64(hour)), "minuteUTC": .int64(Int64(minute))]
        case .weekly(let weekday, let hour, let minute):
            return [
                "type": "weekly", "dayOfWeek": .string(weekday.rawValue), "hourUTC": .int64(Int64(hour)),
                "minuteUTC": .int64(Int64(minute)),
            ]
        case .monthly(let day, let hour, let minute):
            return [
                "type": "monthly", "day": .int64(Int64(day)), "hourUTC": .int64(Int64(hour)), "minuteUTC": .int64(Int64(minute)),
            ]
        case .cron(let expression):
            return ["type": "cron", "expression": .string(expression.source)]
        }
    }

    /// Reads a schedule stored by `value` and validates it, so a hand-edited or corrupt row fails
    /// with a message instead of running at a nonsense time. Integers may also be integral numbers
    /// (float64), as JavaScript would write them.
    public init(value: Value) throws(CronError) {
        func fail(_ detail: String) -> CronError { CronError(message: "Invalid cron schedule \(value): \(detail)") }
        func int(_ key: String) throws(CronError) -> Int {
            switch value[key] {
            case .int64(let i)?:
                if let n = Int(exactly: i) { return n }
            case .float64(let d)?:
                if let n = Int(exactly: d) { return n }
            case nil:
                throw fail("missing field \"\(key)\"")
            default:
                break
            }
            throw fail("field \"\(key)\" must be an integer, got \(value[key]!)")
        }
        func string(_ key: String) throws(CronError) -> String {
            guard let field = value[key] else { throw fail("missing field \"\(key)\"") }
            guard let s = field.stringValue else { throw fail("field \"\(key)\" must be a string, got \(field)") }
            return s
        }
        guard value.objectValue != nil else { throw fail("expected an object with a \"type\" field") }
        switch try string("type") {
        case "interval":
            self = .interval(seconds: try int("seconds"))
        case "hourly":
            self = .hourly(minuteUTC: try int("minuteUTC"))
        case "daily":
            self = .daily(hourUTC: try int("hourUTC"), minuteUTC: try int("minuteUTC"))
        case "weekly":
            let name = try string("dayOfWeek")
            guard let weekday = Weekday(rawValue: name) else {
                let names = Weekday.allCases.map(\.rawValue).joined(separator: ", ")
                throw fail("field \"dayOfWeek\" must be one of \(names), got \"\(name)\"")
            }
            self = .weekly(dayOfWeek: weekday, hourUTC: try int("hourUTC"), minuteUTC: try int("minuteUTC"))
        case "monthly":
            self = .monthly(day: try int("day"), hourUTC: try int("hourUTC"), minuteUTC: try int("minuteUTC"))
        case "cron":
            self = .cron(try CronExpression(try string("expression")))
        case let other:
            throw fail("unknown type \"\(other)\" (expected interval, hourly, daily, weekly, monthly or cron)")
        }
        try validate()
    }
}

/// A day of the week, spelled as Convex's `crons.weekly` spells it.
public enum Weekday: String, Sendable, CaseIterable {
    case sunday, monday, tuesday, wednesday, thursday, friday, saturday

    /// Cron's number for the day: 0 for Sunday through 6 for Saturday.
    var number: Int { Weekday.allCases.firstIndex(of: self)! }
}

/// Why a cron expression, schedule or job declaration is invalid, in words for the app's author.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

/// " for cron job "name"", or nothing: the part of a message that says whose schedule is wrong.
func jobClause(_ job: String?) -> String {
    job.map { " for cron job \"\($0)\"" } ?? ""
}
