import RippleValues

/// One cron job of an app: a unique name, a schedule, the function path it runs and its arguments.
public struct CronJob: Sendable, Equatable {
    public let name: String
    public let schedule: CronSchedule
    public let functionPath: String
    public let args: [String: Value]

    public init(name: String, schedule: CronSchedule, functionPath: String, args: [String: Value] = [:]) {
        self.name = name
        self.schedule = schedule
        self.functionPath = functionPath
        self.args = args
    }
}

/// An app's cron jobs, declared as in Convex's `crons.ts`:
///
///     var crons = Crons()
///     try crons.daily("generate-daily-summaries", hourUTC: 6, minuteUTC: 0, "ai:generateDailySummaries")
///
/// Every method validates at once and throws `CronError` (bad expression, out-of-range field,
/// empty or duplicate name), so a mistake fails at start-up rather than at the first run.
public struct Crons: Sendable, Equatable {
    public private(set) var jobs: [CronJob]
    /// Mistakes in typed declarations, which do not throw: the first stops the node at start-up.
    package var problems: [CronError] = []

    public init() {
        jobs = []
    }

    /// Runs every `seconds + 60 × minutes + 3600 × hours` (at least 1 second), aligned to the epoch.
    public mutating func interval(
        _ name: String, seconds: Int = 0, minutes: Int = 0, hours: Int = 0, _ functionPath: String, _ args: [String: Value] = [:]
    ) throws(CronError) {
        func fail(_ detail: String) -> CronError {
            CronError(message: "Invalid interval schedule\(jobClause(name)): \(detail)")
        }
        try checkName(name)
        for (unit, amount) in [("seconds", seconds), ("minutes", minutes), ("hours", hours)] where amount < 0 {
            throw fail("\(unit) \(amount) must not be negative")
        }
        let (fromMinutes, o1) = minutes.multipliedReportingOverflow(by: 60)
        let (fromHours, o2) = hours.multipliedReportingOverflow(by: 3600)
        let (partial, o3) = seconds.addingReportingOverflow(fromMinutes)
        let (total, o4) = partial.addingReportingOverflow(fromHours)
        guard !(o1 || o2 || o3 || o4) else { throw fail("the interval is too long") }
        try add(name, .interval(seconds: total), functionPath, args)
    }

    /// Runs every hour at `minuteUTC`.
    public mutating func hourly(_ name: String, minuteUTC: Int, _ functionPath: String, _ args: [String: Value] = [:]) throws(CronError) {
        try add(name, .hourly(minuteUTC: minuteUTC), functionPath, args)
    }

    /// Runs every day at `hourUTC:minuteUTC`.
    public mutating func daily(
        _ name: String, hourUTC: Int, minuteUTC: Int, _ functionPath: String, _ args: [String: Value] = [:]
    ) throws(CronError) {
        try add(name, .daily(hourUTC: hourUTC, minuteUTC: minuteUTC), functionPath, args)
    }

    /// Runs every week on `dayOfWeek` at `hourUTC:minuteUTC`.
    public mutating func weekly(
        _ name: String, dayOfWeek: Weekday, hourUTC: Int, minuteUTC: Int, _ functionPath: String, _ args: [String: Value] = [:]
    ) throws(CronError) {
        try add(name, .weekly(dayOfWeek: dayOfWeek, hourUTC: hourUTC, minuteUTC: minuteUTC), functionPath, args)
    }

    /// Runs every month on `day` at `hourUTC:minuteUTC`; months without that day are skipped.
    public mutating func monthly(
        _ name: String, day: Int, hourUTC: Int, minuteUTC: Int, _ functionPath: String, _ args: [String: Value] = [:]
    ) throws(CronError) {
        try add(name, .monthly(day: day, hourUTC: hourUTC, minuteUTC: minuteUTC), functionPath, args)
    }

    /// Runs at the minutes a 5-field cron expression (UTC) matches.
    public mutating func cron(_ name: String, _ expression: String, _ functionPath: String, _ args: [String: Value] = [:]) throws(CronError) {
        try checkName(name)
        try add(name, .cron(try CronExpression(expression, job: name)), functionPath, args)
    }

    private mutating func add(_ name: String, _ schedule: CronSchedule, _ functionPath: String, _ args: [String: Value]) throws(CronError) {
        try checkName(name)
        try schedule.validate(job: name)
        guard !functionPath.isEmpty else { throw CronError(message: "Cron job \"\(name)\" has an empty function path") }
        jobs.append(CronJob(name: name, schedule: schedule, functionPath: functionPath, args: args))
    }

    /// Names identify a job's row in `_cron_jobs` across deploys, so they must be unique.
    private func checkName(_ name: String) throws(CronError) {
        guard !name.allSatisfy(\.isWhitespace) else { throw CronError(message: "A cron job's name must not be empty") }
        guard !jobs.contains(where: { $0.name == name }) else { throw CronError(message: "Cron job \"\(name)\" is defined twice") }
    }
}
