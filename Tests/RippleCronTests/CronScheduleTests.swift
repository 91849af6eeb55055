import RippleCron
import RippleTestSupport
import RippleValues
import Testing

/// Cron expressions and schedules: parsing, error messages, next-run times against dates computed
/// by an independent calendar, and the stored form.
@Suite struct CronScheduleTests {
    /// Wednesday 2026-11-25T10:17:30Z, the starting point of most cases.
    static let start = utc(2026, 11, 25, 10, 17, 30)

    // MARK: - Independent calendar

    @Test func testCalendarAgreesWithKnownTimestamps() {
        #expect(utc(1970, 1, 1) == 0)
        #expect(Self.start == 1_795_601_850_000)
        #expect(utc(2028, 2, 29) == 1_835_395_200_000)
        #expect(utc(2100, 1, 1) == 4_102_444_800_000)
        #expect(utc(1969, 12, 31, 23, 59) == -60_000)
        let day = TestDay(ms: Self.start)
        #expect((day.year, day.month, day.day, day.weekday) == (2026, 11, 25, 3))
    }

    // MARK: - Parsing

    @Test func everySyntaxForm() throws {
        let t = Self.start
        #expect(try runs("* * * * *", after: t, 2) == [utc(2026, 11, 25, 10, 18), utc(2026, 11, 25, 10, 19)])
        #expect(try runs("17 10 * * *", after: t, 2) == [utc(2026, 11, 26, 10, 17), utc(2026, 11, 27, 10, 17)])
        #expect(
            try runs("10-12 * * * *", after: t, 4) == [
                utc(2026, 11, 25, 11, 10), utc(2026, 11, 25, 11, 11), utc(2026, 11, 25, 11, 12), utc(2026, 11, 25, 12, 10),
            ])
        #expect(try runs("*/20 * * * *", after: t, 3) == [utc(2026, 11, 25, 10, 20), utc(2026, 11, 25, 10, 40), utc(2026, 11, 25, 11, 0)])
        #expect(try runs("5-50/15 * * * *", after: t, 4) == [20, 35, 50].map { utc(2026, 11, 25, 10, $0) } + [utc(2026, 11, 25, 11, 5)])
        #expect(try runs("50/4 * * * *", after: t, 4) == [50, 54, 58].map { utc(2026, 11, 25, 10, $0) } + [utc(2026, 11, 25, 11, 50)])
        #expect(try runs("0,30-31 * * * *", after: t, 3) == [utc(2026, 11, 25, 10, 30), utc(2026, 11, 25, 10, 31), utc(2026, 11, 25, 11, 0)])
        #expect(try runs("0 */12 * * *", after: t, 2) == [utc(2026, 11, 25, 12, 0), utc(2026, 11, 26, 0, 0)])
        #expect(try runs("0 0 10-20/5 * *", after: t, 2) == [utc(2026, 12, 10), utc(2026, 12, 15)])
        #expect(try runs("0 0 1 */4 *", after: t, 2) == [utc(2027, 1, 1), utc(2027, 5, 1)])
        // Surrounding and repeated whitespace, tabs included, separates fields.
        #expect(try runs("  0\t0   * * *  ", after: t, 1) == [utc(2026, 11, 26)])
    }

    @Test func monthAndDayNames() throws {
        let t = Self.start
        #expect(try runs("0 0 1 jan,JUL *", after: t, 2) == [utc(2027, 1, 1), utc(2027, 7, 1)])
        #expect(try runs("0 0 1 Mar-may *", after: t, 3) == [utc(2027, 3, 1), utc(2027, 4, 1), utc(2027, 5, 1)])
        #expect(try runs("0 0 1 feb/5 *", after: t, 3) == [utc(2026, 12, 1), utc(2027, 2, 1), utc(2027, 7, 1)])
        // Wednesday the 25th at 10:17: the next weekday mornings are Thu, Fri, then Mon.
        #expect(try runs("0 9 * * Mon-FRI", after: t, 3) == [utc(2026, 11, 26, 9), utc(2026, 11, 27, 9), utc(2026, 11, 30, 9)])
        #expect(try runs("0 9 * * tue,thu", after: t, 2) == [utc(2026, 11, 26, 9), utc(2026, 12, 1, 9)])
    }

    @Test func sevenIsSunday() throws {
        let sundays = [utc(2026, 11, 29), utc(2026, 12, 6)]
        for source in ["0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "0 0 * * SUN", "0 0 * * 7-7"] {
            #expect(try runs(source, after: Self.start, 2) == sundays, "\(source)")
        }
        // 5-7 is Friday, Saturday and Sunday.
        #expect(try runs("0 0 * * 5-7", after: Self.start, 4) == [27, 28, 29].map { utc(2026, 11, $0) } + [utc(2026, 12, 4)])
        // `a/n` ends on Saturday: 1/2 is Monday, Wednesday and Friday, not Sunday.
        #expect(try runs("0 0 * * 1/2", after: Self.start, 4) == [27, 30].map { utc(2026, 11, $0) } + [utc(2026, 12, 2), utc(2026, 12, 4)])
        // */2 on the week is Sunday, Tuesday, Thursday, Saturday.
        #expect(try runs("0 0 * * */2", after: Self.start, 3) == [26, 28, 29].map { utc(2026, 11, $0) })
    }

    @Test func errorMessages() {
        let cases: [(String, String)] = [
            ("61 * * * *", "minute 61 is out of range 0-59"),
            ("* 24 * * *", "hour 24 is out of range 0-23"),
            ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
            ("* * 32 * *", "day-of-month 32 is out of range 1-31"),
            ("* * * 13 *", "month 13 is out of range 1-12"),
            ("* * * * 8", "day-of-week 8 is out of range 0-7"),
            ("99999999999 * * * *", "minute 99999999999 is out of range 0-59"),
            ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
            ("* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"),
            ("", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"),
            ("0 0 1 foo *", "unknown month name \"foo\" (expected jan..dec)"),
            ("0 0 * * funday", "unknown day name \"funday\" (expected sun..sat)"),
            ("0 0 1 jan-bar *", "unknown month name \"bar\" (expected jan..dec)"),
            ("jan * * * *", "minute \"jan\" is not a number"),
            ("*/0 * * * *", "step 0 in minute field item \"*/0\" must be at least 1"),
            ("* 1-5/0 * * *", "step 0 in hour field item \"1-5/0\" must be at least 1"),
            ("*/x * * * *", "minute step \"x\" in \"*/x\" is not a number"),
            ("*/5/2 * * * *", "minute field item \"*/5/2\" has more than one step"),
            ("5-2 * * * *", "minute range 5-2 is backwards; write 5-59,0-2 to wrap around"),
            ("0 0 * * fri-mon", "day-of-week range fri-mon is backwards; write 5-7,0-1 to wrap around"),
            ("1,,2 * * * *", "minute field \"1,,2\" has an empty list item"),
            ("1, * * * *", "minute field \"1,\" has an empty list item"),
            ("1- * * * *", "minute field item \"1-\" is missing a value"),
            ("/5 * * * *", "minute field item \"/5\" is missing a value"),
            ("-1 * * * *", "minute field item \"-1\" is missing a value"),
            ("0 0 31 2 *", "it never runs: February has no day 31"),
            ("0 0 30,31 feb *", "it never runs: February has no day 30 or 31"),
            ("0 0 31 4,6,9,11 *", "it never runs: April, June, September and November have no day 31"),
            ("0 0 31 2 */7", "it never runs: February has no day 31"),
        ]
        for (source, detail) in cases {
            #expect(message { _ = try CronExpression(source) } == "Invalid cron expression \"\(source)\": \(detail)")
        }
    }

    @Test func possibleButRareExpressionsParse() throws {
        // Both day fields restricted: the days of week still run although February has no 31st.
        #expect(try runs("0 0 31 2 mon", after: Self.start, 1) == [utc(2027, 2, 1)])
        #expect(try CronExpression("0 0 29 2 *").source == "0 0 29 2 *")
    }

    // MARK: - Next run times of expressions

    @Test func monthEndsAndYearRollover() throws {
        #expect(try runs("0 0 * * *", after: utc(2026, 11, 30, 23, 59, 59), 1) == [utc(2026, 12, 1)])
        #expect(
            try runs("0 12 31 * *", after: Self.start, 4) == [
                utc(2026, 12, 31, 12), utc(2027, 1, 31, 12), utc(2027, 3, 31, 12), utc(2027, 5, 31, 12),
            ])
        #expect(try runs("30 23 31 12 *", after: Self.start, 2) == [utc(2026, 12, 31, 23, 30), utc(2027, 12, 31, 23, 30)])
        #expect(try runs("0 0 1 1 *", after: utc(2026, 12, 31, 23, 59, 59) + 999.5, 1) == [utc(2027, 1, 1)])
        #expect(try runs("* * * * *", after: utc(2026, 12, 31, 23, 59, 30), 2) == [utc(2027, 1, 1), utc(2027, 1, 1, 0, 1)])
        #expect(try runs("59 23 28-31 * *", after: utc(2027, 2, 28, 12), 2) == [utc(2027, 2, 28, 23, 59), utc(2027, 3, 28, 23, 59)])
    }

    @Test func leapYears() throws {
        #expect(try runs("0 0 29 2 *", after: Self.start, 2) == [utc(2028, 2, 29), utc(2032, 2, 29)])
        // 2100 is not a leap year: eight years between February 29ths.
        #expect(try runs("0 0 29 2 *", after: utc(2096, 3, 1), 1) == [utc(2104, 2, 29)])
        #expect(try runs("0 0 28-29 2 *", after: utc(2027, 2, 28), 2) == [utc(2028, 2, 28), utc(2028, 2, 29)])
        #expect(try runs("0 0 1 3 *", after: utc(2028, 2, 28, 12), 1) == [utc(2028, 3, 1)])
        // February 29th on a Sunday, where a day must match both fields: 2032, then 2060.
        #expect(try runs("0 0 29 2 */7", after: Self.start, 2) == [utc(2032, 2, 29), utc(2060, 2, 29)])
    }

    @Test func dayOfMonthOrDayOfWeek() throws {
        // Both restricted: the 13th or any Friday.
        #expect(
            try runs("0 0 13 * fri", after: Self.start, 5) == [
                utc(2026, 11, 27), utc(2026, 12, 4), utc(2026, 12, 11), utc(2026, 12, 13), utc(2026, 12, 18),
            ])
        #expect(try runs("0 0 1 * mon", after: Self.start, 3) == [utc(2026, 11, 30), utc(2026, 12, 1), utc(2026, 12, 7)])
        // Either field starting with `*` (Vixie): a day must match both; odd days that are Fridays.
        #expect(try runs("0 0 */2 * fri", after: Self.start, 4) == [utc(2026, 11, 27), utc(2026, 12, 11), utc(2026, 12, 25), utc(2027, 1, 1)])
        #expect(try runs("0 0 13 * *", after: Self.start, 1) == [utc(2026, 12, 13)])
        #expect(try runs("0 0 * * fri", after: Self.start, 2) == [utc(2026, 11, 27), utc(2026, 12, 4)])
    }

    @Test func nextRunIsStrictlyAfter() throws {
        let expression = try CronExpression("*/5 * * * *")
        let run = utc(2026, 11, 25, 10, 20)
        #expect(expression.nextRun(after: run) == utc(2026, 11, 25, 10, 25))
        #expect(expression.nextRun(after: run - 1) == run)
        #expect(expression.nextRun(after: run - 0.001) == run)
        #expect(expression.nextRun(after: run + 0.001) == utc(2026, 11, 25, 10, 25))
        // Before 1970 too: times round towards the past.
        #expect(expression.nextRun(after: -0.5) == 0)
        #expect(expression.nextRun(after: -300_000) == 0)
        #expect(expression.nextRun(after: .nan) == .infinity)
        #expect(expression.nextRun(after: 8.64e15) == .infinity)
    }

    // MARK: - Convex's schedules

    @Test func intervalsAreAlignedToTheEpoch() {
        let everySecond = CronSchedule.interval(seconds: 1)
        #expect(everySecond.nextRun(after: Self.start) == Self.start + 1000)
        #expect(everySecond.nextRun(after: Self.start + 0.5) == Self.start + 1000)
        #expect(everySecond.nextRun(after: Self.start - 0.5) == Self.start)
        let everyFiveMinutes = CronSchedule.interval(seconds: 300)
        #expect(everyFiveMinutes.nextRun(after: Self.start) == utc(2026, 11, 25, 10, 20))
        #expect(everyFiveMinutes.nextRun(after: utc(2026, 11, 25, 10, 20)) == utc(2026, 11, 25, 10, 25))
        let everySevenSeconds = CronSchedule.interval(seconds: 7)
        let next = everySevenSeconds.nextRun(after: Self.start)
        #expect(next.truncatingRemainder(dividingBy: 7000) == 0 && next > Self.start && next <= Self.start + 7000)
        #expect(CronSchedule.interval(seconds: 60).nextRun(after: -1) == 0)
        #expect(CronSchedule.interval(seconds: 60).nextRun(after: -60_000.5) == -60_000)
        #expect(CronSchedule.interval(seconds: 0).nextRun(after: Self.start) == .infinity)
    }

    @Test func hourlyDailyWeeklyMonthly() {
        let t = Self.start
        #expect(CronSchedule.hourly(minuteUTC: 5).nextRun(after: t) == utc(2026, 11, 25, 11, 5))
        #expect(CronSchedule.hourly(minuteUTC: 17).nextRun(after: t) == utc(2026, 11, 25, 11, 17))
        #expect(CronSchedule.hourly(minuteUTC: 17).nextRun(after: utc(2026, 11, 25, 10, 16, 59)) == utc(2026, 11, 25, 10, 17))
        #expect(CronSchedule.hourly(minuteUTC: 0).nextRun(after: utc(2026, 12, 31, 23, 0)) == utc(2027, 1, 1))
        #expect(CronSchedule.daily(hourUTC: 6, minuteUTC: 0).nextRun(after: t) == utc(2026, 11, 26, 6))
        #expect(CronSchedule.daily(hourUTC: 10, minuteUTC: 18).nextRun(after: t) == utc(2026, 11, 25, 10, 18))
        #expect(CronSchedule.daily(hourUTC: 10, minuteUTC: 18).nextRun(after: utc(2026, 11, 25, 10, 18)) == utc(2026, 11, 26, 10, 18))
        #expect(CronSchedule.weekly(dayOfWeek: .monday, hourUTC: 9, minuteUTC: 0).nextRun(after: t) == utc(2026, 11, 30, 9))
        #expect(CronSchedule.weekly(dayOfWeek: .wednesday, hourUTC: 10, minuteUTC: 17).nextRun(after: t) == utc(2026, 12, 2, 10, 17))
        #expect(CronSchedule.weekly(dayOfWeek: .wednesday, hourUTC: 10, minuteUTC: 18).nextRun(after: t) == utc(2026, 11, 25, 10, 18))
        #expect(CronSchedule.weekly(dayOfWeek: .sunday, hourUTC: 0, minuteUTC: 0).nextRun(after: t) == utc(2026, 11, 29))
        #expect(CronSchedule.weekly(dayOfWeek: .saturday, hourUTC: 23, minuteUTC: 59).nextRun(after: t) == utc(2026, 11, 28, 23, 59))
        #expect(CronSchedule.monthly(day: 1, hourUTC: 0, minuteUTC: 0).nextRun(after: t) == utc(2026, 12, 1))
        #expect(CronSchedule.monthly(day: 25, hourUTC: 10, minuteUTC: 17).nextRun(after: t) == utc(2026, 12, 25, 10, 17))
        // Day 31 skips 30-day months and February.
        #expect(
            runs(.monthly(day: 31, hourUTC: 0, minuteUTC: 0), after: t, 6) == [
                utc(2026, 12, 31), utc(2027, 1, 31), utc(2027, 3, 31), utc(2027, 5, 31), utc(2027, 7, 31), utc(2027, 8, 31),
            ])
        // Day 29 runs in February only in a leap year.
        #expect(runs(.monthly(day: 29, hourUTC: 0, minuteUTC: 0), after: utc(2027, 1, 30), 1) == [utc(2027, 3, 29)])
        #expect(runs(.monthly(day: 29, hourUTC: 0, minuteUTC: 0), after: utc(2028, 1, 30), 1) == [utc(2028, 2, 29)])
        // An invalid schedule never runs rather than running at a wrapped-around time.
        #expect(CronSchedule.hourly(minuteUTC: 60).nextRun(after: t) == .infinity)
        #expect(CronSchedule.monthly(day: 32, hourUTC: 0, minuteUTC: 0).nextRun(after: t) == .infinity)
    }

    @Test func validateNamesTheFieldAndItsRange() throws {
        #expect(message { try CronSchedule.hourly(minuteUTC: 60).validate() } == "Invalid hourly schedule: minuteUTC 60 is out of range 0-59")
        #expect(message { try CronSchedule.daily(hourUTC: 24, minuteUTC: 0).validate() } == "Invalid daily schedule: hourUTC 24 is out of range 0-23")
        #expect(
            message { try CronSchedule.weekly(dayOfWeek: .friday, hourUTC: 1, minuteUTC: -1).validate() }
                == "Invalid weekly schedule: minuteUTC -1 is out of range 0-59")
        #expect(
            message { try CronSchedule.monthly(day: 0, hourUTC: 0, minuteUTC: 0).validate() }
                == "Invalid monthly schedule: day 0 is out of range 1-31")
        #expect(
            message { try CronSchedule.interval(seconds: 0).validate() }
                == "Invalid interval schedule: the interval must be at least 1 second, got 0 seconds")
        for schedule in Self.everyCase { try schedule.validate() }
    }

    // MARK: - Declaring crons

    @Test func declaringCrons() throws {
        var crons = Crons()
        try crons.daily("generate-daily-summaries", hourUTC: 6, minuteUTC: 0, "ai:generateDailySummaries")
        try crons.interval("clear-presence", minutes: 5, "presence:clear", ["all": true])
        try crons.interval("heartbeat", seconds: 30, minutes: 1, hours: 2, "health:beat")
        try crons.hourly("rollup", minuteUTC: 15, "stats:rollup")
        try crons.weekly("digest", dayOfWeek: .monday, hourUTC: 9, minuteUTC: 30, "mail:digest")
        try crons.monthly("invoices", day: 1, hourUTC: 0, minuteUTC: 0, "billing:invoice")
        try crons.cron("cleanup", "0 3 * * sun", "storage:cleanup")
        #expect(
            crons.jobs == [
                CronJob(name: "generate-daily-summaries", schedule: .daily(hourUTC: 6, minuteUTC: 0), functionPath: "ai:generateDailySummaries"),
                CronJob(name: "clear-presence", schedule: .interval(seconds: 300), functionPath: "presence:clear", args: ["all": true]),
                CronJob(name: "heartbeat", schedule: .interval(seconds: 7290), functionPath: "health:beat"),
                CronJob(name: "rollup", schedule: .hourly(minuteUTC: 15), functionPath: "stats:rollup"),
                CronJob(name: "digest", schedule: .weekly(dayOfWeek: .monday, hourUTC: 9, minuteUTC: 30), functionPath: "mail:digest"),
                CronJob(name: "invoices", schedule: .monthly(day: 1, hourUTC: 0, minuteUTC: 0), functionPath: "billing:invoice"),
                CronJob(name: "cleanup", schedule: .cron(try CronExpression("0 3 * * sun")), functionPath: "storage:cleanup"),
            ])
    }

    @Test func declarationErrorsNameTheJob() throws {
        var crons = Crons()
        try crons.hourly("x", minuteUTC: 0, "a:b")
        let before = crons
        #expect(message { try crons.daily("x", hourUTC: 1, minuteUTC: 0, "a:c") } == "Cron job \"x\" is defined twice")
        #expect(message { try crons.cron("x", "* * * * *", "a:c") } == "Cron job \"x\" is defined twice")
        #expect(message { try crons.hourly("", minuteUTC: 0, "a:b") } == "A cron job's name must not be empty")
        #expect(message { try crons.hourly("  ", minuteUTC: 0, "a:b") } == "A cron job's name must not be empty")
        #expect(message { try crons.hourly("y", minuteUTC: 0, "") } == "Cron job \"y\" has an empty function path")
        #expect(
            message { try crons.cron("cleanup", "61 * * * *", "a:b") }
                == "Invalid cron expression \"61 * * * *\" for cron job \"cleanup\": minute 61 is out of range 0-59")
        #expect(
            message { try crons.cron("cleanup", "* * * *", "a:b") }
                == "Invalid cron expression \"* * * *\" for cron job \"cleanup\": expected 5 fields (minute hour day-of-month month day-of-week), got 4"
        )
        #expect(
            message { try crons.daily("d", hourUTC: 25, minuteUTC: 0, "a:b") }
                == "Invalid daily schedule for cron job \"d\": hourUTC 25 is out of range 0-23")
        #expect(
            message { try crons.monthly("m", day: 32, hourUTC: 0, minuteUTC: 0, "a:b") }
                == "Invalid monthly schedule for cron job \"m\": day 32 is out of range 1-31")
        #expect(
            message { try crons.interval("i", "a:b") }
                == "Invalid interval schedule for cron job \"i\": the interval must be at least 1 second, got 0 seconds")
        #expect(
            message { try crons.interval("i", seconds: 30, minutes: -1, "a:b") }
                == "Invalid interval schedule for cron job \"i\": minutes -1 must not be negative")
        #expect(message { try crons.interval("i", hours: .max, "a:b") } == "Invalid interval schedule for cron job \"i\": the interval is too long")
        #expect(crons == before)
    }

    // MARK: - Stored form

    static let everyCase: [CronSchedule] =
        [
            .interval(seconds: 1), .interval(seconds: 86_400), .hourly(minuteUTC: 59), .daily(hourUTC: 23, minuteUTC: 0),
            .weekly(dayOfWeek: .sunday, hourUTC: 0, minuteUTC: 0), .weekly(dayOfWeek: .saturday, hourUTC: 12, minuteUTC: 30),
            .monthly(day: 31, hourUTC: 6, minuteUTC: 45), .cron(try! CronExpression("*/15 9-17 * JAN-jun mon-fri")),
        ] + Weekday.allCases.map { .weekly(dayOfWeek: $0, hourUTC: 1, minuteUTC: 2) }

    @Test func valueRoundTrip() throws {
        for schedule in Self.everyCase {
            let restored = try CronSchedule(value: schedule.value)
            #expect(restored == schedule)
            #expect(restored.value == schedule.value)
        }
        #expect(CronSchedule.daily(hourUTC: 6, minuteUTC: 0).value == ["type": "daily", "hourUTC": .int64(6), "minuteUTC": .int64(0)])
        #expect(CronSchedule.interval(seconds: 300).value == ["type": "interval", "seconds": .int64(300)])
        #expect(
            CronSchedule.weekly(dayOfWeek: .monday, hourUTC: 9, minuteUTC: 0).value
                == ["type": "weekly", "dayOfWeek": "monday", "hourUTC": .int64(9), "minuteUTC": .int64(0)])
        #expect(try CronSchedule(value: ["type": "cron", "expression": "0 0 * * 7"]).value == ["type": "cron", "expression": "0 0 * * 7"])
        // JavaScript numbers are accepted where they are whole.
        #expect(try CronSchedule(value: ["type": "hourly", "minuteUTC": 5]) == .hourly(minuteUTC: 5))
    }

    @Test func malformedStoredSchedules() {
        func error(_ value: Value) -> String? { message { _ = try CronSchedule(value: value) } }
        #expect(error("daily") == "Invalid cron schedule \"daily\": expected an object with a \"type\" field")
        #expect(error([:]) == "Invalid cron schedule {}: missing field \"type\"")
        #expect(
            error(["type": "yearly"])
                == "Invalid cron schedule { type: \"yearly\" }: unknown type \"yearly\" (expected interval, hourly, daily, weekly, monthly or cron)")
        #expect(error(["type": "hourly"]) == "Invalid cron schedule { type: \"hourly\" }: missing field \"minuteUTC\"")
        #expect(
            error(["type": "hourly", "minuteUTC": 1.5])
                == "Invalid cron schedule { minuteUTC: 1.5, type: \"hourly\" }: field \"minuteUTC\" must be an integer, got 1.5")
        #expect(
            error(["type": "weekly", "dayOfWeek": "funday", "hourUTC": .int64(0), "minuteUTC": .int64(0)])?.hasSuffix(
                "field \"dayOfWeek\" must be one of sunday, monday, tuesday, wednesday, thursday, friday, saturday, got \"funday\"") == true)
        #expect(error(["type": "hourly", "minuteUTC": .int64(60)]) == "Invalid hourly schedule: minuteUTC 60 is out of range 0-59")
        #expect(
            error(["type": "cron", "expression": "0 0 31 2 *"]) == "Invalid cron expression \"0 0 31 2 *\": it never runs: February has no day 31")
        #expect(
            error(["type": "cron", "expression": .int64(5)])
                == "Invalid cron schedule { expression: 5n, type: \"cron\" }: field \"expression\" must be a string, got 5n")
    }

    // MARK: - Property test

    /// A schedule with an independent statement of what it matches.
    fileprivate struct Case {
        let name: String
        let nextRun: (Double) -> Double
        let dayMatches: (TestDay) -> Bool
        let timeMatches: (_ hour: Int, _ minute: Int) -> Bool
    }

    fileprivate static func propertyCases() throws -> [Case] {
        func expression(_ source: String, _ day: @escaping (TestDay) -> Bool, _ time: @escaping (Int, Int) -> Bool) throws -> Case {
            let parsed = try CronExpression(source)
            return Case(name: source, nextRun: parsed.nextRun(after:), dayMatches: day, timeMatches: time)
        }
        func schedule(_ schedule: CronSchedule, _ day: @escaping (TestDay) -> Bool, _ time: @escaping (Int, Int) -> Bool) -> Case {
            Case(name: "\(schedule)", nextRun: schedule.nextRun(after:), dayMatches: day, timeMatches: time)
        }
        return [
            try expression("* * * * *", { _ in true }, { _, _ in true }),
            try expression("*/15 9-17 * * mon-fri", { (1...5).contains($0.weekday) }, { h, m in m % 15 == 0 && (9...17).contains(h) }),
            try expression("0 0 13 * fri", { $0.day == 13 || $0.weekday == 5 }, { h, m in h == 0 && m == 0 }),
            try expression("30 2 */2 * sun", { $0.day % 2 == 1 && $0.weekday == 0 }, { h, m in h == 2 && m == 30 }),
            try expression("0 0 29 2 *", { $0.month == 2 && $0.day == 29 }, { h, m in h == 0 && m == 0 }),
            try expression(
                "5,35 */6 1-7 jan,JUL *", { ($0.month == 1 || $0.month == 7) && $0.day <= 7 }, { h, m in h % 6 == 0 && (m == 5 || m == 35) }),
            try expression("59 23 28-31 * 7", { $0.day >= 28 || $0.weekday == 0 }, { h, m in h == 23 && m == 59 }),
            schedule(.monthly(day: 31, hourUTC: 12, minuteUTC: 0), { $0.day == 31 }, { h, m in h == 12 && m == 0 }),
            schedule(.weekly(dayOfWeek: .saturday, hourUTC: 23, minuteUTC: 59), { $0.weekday == 6 }, { h, m in h == 23 && m == 59 }),
            schedule(.daily(hourUTC: 0, minuteUTC: 0), { _ in true }, { h, m in h == 0 && m == 0 }),
        ]
    }

    /// From random times in 2000-2099: the next run is later, matches, and no matching minute lies
    /// between (every minute of every day in the gap is checked, days by the day predicate).
    @Test func nextRunIsTheFirstMatchAfterRandomTimes() throws {
        var random = SeededRandom(seed: 0x5EED_C0FF_EE15_600D)
        let from = utc(2000, 1, 1)
        let span = utc(2100, 1, 1) - from
        for testCase in try Self.propertyCases() {
            for sample in 0..<200 {
                var t = from + Double(random.next() >> 11) / Double(1 << 53) * span
                switch sample % 4 {
                case 0: t = (t / 60_000).rounded(.down) * 60_000  // on a minute
                case 1: t = testCase.nextRun(t)  // on a run
                case 2: t = t.rounded(.down)  // whole milliseconds
                default: break  // fractional milliseconds
                }
                let next = testCase.nextRun(t)
                #expect(next > t, "\(testCase.name) after \(t)")
                #expect(next.truncatingRemainder(dividingBy: 60_000) == 0, "\(testCase.name) after \(t)")
                let minute = Int(next / 60_000)
                let runDay = TestDay(ms: next)
                #expect(
                    testCase.dayMatches(runDay) && testCase.timeMatches(minute % 1440 / 60, minute % 60),
                    "\(testCase.name) after \(t): \(next) does not match")
                if let skipped = firstMatch(testCase, after: t, before: next) {
                    Issue.record("\(testCase.name) after \(t): \(next) skips \(skipped)")
                }
            }
        }
    }

    /// The first matching minute strictly between `t` and `end`, by brute force.
    fileprivate func firstMatch(_ testCase: Case, after t: Double, before end: Double) -> Double? {
        var minute = Int((t / 60_000).rounded(.down)) + 1
        let last = Int(end / 60_000)
        guard last - minute < 9 * 366 * 1440 else { return nil }
        var day = TestDay(ms: Double(minute) * 60_000)
        while minute < last {
            let dayEnd = min(last, (minute / 1440 + 1) * 1440)
            if testCase.dayMatches(day) {
                for m in minute..<dayEnd where testCase.timeMatches(m % 1440 / 60, m % 60) { return Double(m) * 60_000 }
            }
            minute = dayEnd
            day.advance()
        }
        return nil
    }

    // MARK: - Helpers

    /// The first `count` runs of `source` after `t`.
    func runs(_ source: String, after t: Double, _ count: Int) throws -> [Double] {
        runs(.cron(try CronExpression(source)), after: t, count)
    }

    func runs(_ schedule: CronSchedule, after t: Double, _ count: Int) -> [Double] {
        var times: [Double] = []
        var t = t
        for _ in 0..<count {
            t = schedule.nextRun(after: t)
            times.append(t)
        }
        return times
    }

    /// The message of the `CronError` that `body` throws, or `nil`.
    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as CronError {
            return error.message
        } catch {
            return "not a CronError: \(error)"
        }
    }
}

// MARK: - An independent calendar

private func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

private func monthLength(_ year: Int, _ month: Int) -> Int {
    [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
}

/// Milliseconds since the epoch of a UTC time, counting days year by year and month by month
/// (not the algorithm under test).
private func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Double {
    var days = day - 1
    if year >= 1970 {
        for y in 1970..<year { days += isLeap(y) ? 366 : 365 }
    } else {
        for y in year..<1970 { days -= isLeap(y) ? 366 : 365 }
    }
    for m in 1..<month { days += monthLength(year, m) }
    return Double(((days * 24 + hour) * 60 + minute) * 60 + second) * 1000
}

/// A UTC date found by counting from 1970-01-01 (a Thursday) and stepped a day at a time.
private struct TestDay {
    var year = 1970
    var month = 1
    var day = 1
    /// 0 = Sunday.
    var weekday = 4

    /// The date of `ms` (at or after 1970).
    init(ms: Double) {
        var days = Int((ms / 86_400_000).rounded(.down))
        weekday = (4 + days) % 7
        while days >= (isLeap(year) ? 366 : 365) {
            days -= isLeap(year) ? 366 : 365
            year += 1
        }
        while days >= monthLength(year, month) {
            days -= monthLength(year, month)
            month += 1
        }
        day += days
    }

    mutating func advance() {
        weekday = (weekday + 1) % 7
        day += 1
        if day > monthLength(year, month) {
            day = 1
            month += 1
            if month > 12 { (month, year) = (1, year + 1) }
        }
    }
}
