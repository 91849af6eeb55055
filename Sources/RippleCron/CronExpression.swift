// RippleCron — when a cron job runs: `CronExpression` (5-field cron), `CronSchedule` (intervals,
// daily, weekly, … and expressions) and `Crons`, the declarations an app makes. Pure: it may
// import RippleValues only; the scheduler tables and the runner that use it live above.

import RippleValues

/// A parsed 5-field cron expression "minute hour day-of-month month day-of-week" (UTC), with
/// standard (Vixie) semantics: `*`, numbers, ranges `a-b`, steps `*/n`, `a-b/n` and `a/n` (from `a`
/// to the field's last value; Saturday for day-of-week), lists `a,b-c`, month names jan..dec and
/// day names sun..sat (case-insensitive), day-of-week 0-7 with 0 and 7 both Sunday.
///
/// When both day-of-month and day-of-week are restricted, a day matches if *either* matches
/// (`0 0 1 * mon` runs on the 1st and on every Monday). As in Vixie cron, a field that starts with
/// `*` (also `*/2`) counts as unrestricted, and then a day must match both.
///
/// An expression that can never run (`0 0 31 2 *`: no February has a 31st) is rejected when it is
/// parsed, so `nextRun` always finds a run: within 400 years, the cycle of the Gregorian calendar.
public struct CronExpression: Sendable, Equatable {
    /// The expression as written; it is what is stored and shown.
    public let source: String
    private let fields: CronFields

    /// Parses `source`; the error names the field and what is wrong with it.
    public init(_ source: String) throws(CronError) {
        try self.init(source, job: nil)
    }

    /// `init(_:)`, naming the cron job in the message when there is one.
    init(_ source: String, job: String?) throws(CronError) {
        self.source = source
        do throws(CronFieldError) {
            fields = try CronFields(parsing: source)
        } catch {
            throw CronError(message: "Invalid cron expression \"\(source)\"\(jobClause(job)): \(error.detail)")
        }
    }

    /// The first matching minute (seconds = 0) strictly after `ms`; `.infinity` for `ms` at or
    /// beyond the end of JavaScript dates (8.64e15) or NaN.
    public func nextRun(after ms: Double) -> Double {
        fields.nextRun(after: ms)
    }
}

// MARK: - Matching

/// The minutes, hours, days and months a schedule runs at, as bit sets (bit `n` = value `n`), so
/// matching a value is a shift and finding the next one is a trailing-zero count.
struct CronFields: Sendable, Equatable {
    var minutes: UInt64  // 0...59
    var hours: UInt32  // 0...23
    var daysOfMonth: UInt32  // 1...31
    var months: UInt16  // 1...12
    var daysOfWeek: UInt8  // 0...6, 0 = Sunday
    /// Whether the field was written starting with `*`: with either one, a day must match both.
    var dayOfMonthIsStar: Bool
    var dayOfWeekIsStar: Bool

    /// The fields of one of the fixed schedules; `nil` for `.interval` and `.cron`.
    init?(_ schedule: CronSchedule) {
        let everyHour: UInt32 = (1 << 24) - 1
        var day: Int?
        var weekday: Weekday?
        switch schedule {
        case .hourly(let minute):
            (minutes, hours) = (1 << minute, everyHour)
        case .daily(let hour, let minute):
            (minutes, hours) = (1 << minute, 1 << hour)
        case .weekly(let dayOfWeek, let hour, let minute):
            (minutes, hours, weekday) = (1 << minute, 1 << hour, dayOfWeek)
        case .monthly(let dayOfMonth, let hour, let minute):
            (minutes, hours, day) = (1 << minute, 1 << hour, dayOfMonth)
        case .interval, .cron:
            return nil
        }
        daysOfMonth = day.map { 1 << $0 } ?? 0xFFFF_FFFE
        months = 0x1FFE
        daysOfWeek = weekday.map { 1 << $0.number } ?? 0x7F
        dayOfMonthIsStar = day == nil
        dayOfWeekIsStar = weekday == nil
    }

    func matches(day: Int, weekday: Int) -> Bool {
        let dayOfMonth = daysOfMonth >> day & 1 != 0
        let dayOfWeek = daysOfWeek >> weekday & 1 != 0
        return dayOfMonthIsStar || dayOfWeekIsStar ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek
    }

    /// Whether some date matches: only a day-of-month that no allowed month has can make the set
    /// empty (with both day fields restricted, every month has every weekday).
    var neverRuns: Bool {
        guard dayOfMonthIsStar || dayOfWeekIsStar else { return false }
        return (1...12).allSatisfy { month in months >> month & 1 == 0 || daysOfMonth & daysUpTo(maxDays(month)) == 0 }
    }

    /// Searches month by month, day by day, then hour and minute by bit set. A valid expression
    /// matches some day of every 400-year Gregorian cycle, which bounds the search.
    func nextRun(after ms: Double) -> Double {
        guard let t = EpochMilliseconds(ms) else { return .infinity }
        let first = floorDivide(t.value, 60_000) + 1
        var date = UTCDate(daysSinceEpoch: floorDivide(first, 1440))
        var minuteOfDay = Int(first - date.daysSinceEpoch * 1440)
        let lastDay = date.daysSinceEpoch + 146_097 + 366
        while date.daysSinceEpoch <= lastDay {
            if months >> date.month & 1 == 0 {
                date.advanceToNextMonth()
            } else if matches(day: date.day, weekday: date.weekday), let time = firstTime(atOrAfter: minuteOfDay) {
                let run = (date.daysSinceEpoch * 1440 + Int64(time)) * 60_000
                return run < EpochMilliseconds.end ? Double(run) : .infinity
            } else {
                date.advanceToNextDay()
            }
            minuteOfDay = 0
        }
        return .infinity
    }

    /// The first allowed minute of the day at or after `minuteOfDay`, or `nil` if the day has none left.
    private func firstTime(atOrAfter minuteOfDay: Int) -> Int? {
        var hour = minuteOfDay / 60
        var minute = minuteOfDay % 60
        while hour < 24 {
            let laterHours = hours & ~((1 << hour) - 1)
            guard laterHours != 0 else { return nil }
            let nextHour = laterHours.trailingZeroBitCount
            if nextHour != hour { minute = 0 }
            let laterMinutes = minutes & ~((1 << minute) - 1)
            if laterMinutes != 0 { return nextHour * 60 + laterMinutes.trailingZeroBitCount }
            (hour, minute) = (nextHour + 1, 0)
        }
        return nil
    }
}

// MARK: - Parsing

/// A parse failure without the expression and job, which the caller adds.
struct CronFieldError: Error {
    let detail: String
}

/// What one of the five fields accepts.
private struct FieldKind {
    let name: String
    /// The values a number may have.
    let range: ClosedRange<Int>
    /// What `*` and the end of `a/n` mean: the week ends on Saturday although 7 is also Sunday.
    let span: ClosedRange<Int>
    /// Three-letter names, the first for `span.lowerBound`, and what the error calls them.
    let names: [String]
    let nameKind: String

    static let all = [
        FieldKind(name: "minute", range: 0...59, span: 0...59, names: [], nameKind: ""),
        FieldKind(name: "hour", range: 0...23, span: 0...23, names: [], nameKind: ""),
        FieldKind(name: "day-of-month", range: 1...31, span: 1...31, names: [], nameKind: ""),
        FieldKind(
            name: "month", range: 1...12, span: 1...12,
            names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], nameKind: "month"),
        FieldKind(
            name: "day-of-week", range: 0...7, span: 0...6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], nameKind: "day"),
    ]

    /// The bit set of the values `text` (one whitespace-separated field) allows.
    func parse(_ text: Substring) throws(CronFieldError) -> UInt64 {
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw CronFieldError(detail: "\(name) field \"\(text)\" has an empty list item") }
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw CronFieldError(detail: "\(name) field item \"\(item)\" has more than one step") }
            var step = 1
            if parts.count == 2 {
                guard let n = Self.digits(parts[1]) else {
                    throw CronFieldError(detail: "\(name) step \"\(parts[1])\" in \"\(item)\" is not a number")
                }
                guard n >= 1 else { throw CronFieldError(detail: "step 0 in \(name) field item \"\(item)\" must be at least 1") }
                step = n
            }
            let base = parts[0]
            let low: Int
            let high: Int
            if base == "*" {
                (low, high) = (span.lowerBound, span.upperBound)
            } else if let dash = base.firstIndex(of: "-") {
                (low, high) = (try value(base[..<dash], in: item), try value(base[base.index(after: dash)...], in: item))
                guard low <= high else {
                    throw CronFieldError(
                        detail: "\(name) range \(base) is backwards; write \(low)-\(range.upperBound),\(range.lowerBound)-\(high) to wrap around")
                }
            } else {
                low = try value(base, in: item)
                high = parts.count == 2 ? max(low, span.upperBound) : low
            }
            for v in stride(from: low, through: high, by: step) { bits |= 1 << v }
        }
        return bits
    }

    /// A number in `range`, or a name, from `text` inside the list item `item`.
    private func value(_ text: Substring, in item: Substring) throws(CronFieldError) -> Int {
        guard !text.isEmpty else { throw CronFieldError(detail: "\(name) field item \"\(item)\" is missing a value") }
        if let n = Self.digits(text) {
            guard range.contains(n) else {
                throw CronFieldError(detail: "\(name) \(text) is out of range \(range.lowerBound)-\(range.upperBound)")
            }
            return n
        }
        guard !names.isEmpty else { throw CronFieldError(detail: "\(name) \"\(text)\" is not a number") }
        guard let index = names.firstIndex(of: text.lowercased()) else {
            throw CronFieldError(detail: "unknown \(nameKind) name \"\(text)\" (expected \(names.first!)..\(names.last!))")
        }
        return span.lowerBound + index
    }

    /// The value of ASCII digits; too many digits read as `Int.max`, out of every range.
    private static func digits(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return text.count > 9 ? Int.max : Int(text)
    }
}

extension CronFields {
    /// Parses the five fields of `source`.
    init(parsing source: String) throws(CronFieldError) {
        let texts = source.split(whereSeparator: \.isWhitespace)
        guard texts.count == 5 else {
            throw CronFieldError(detail: "expected 5 fields (minute hour day-of-month month day-of-week), got \(texts.count)")
        }
        var bits: [UInt64] = []
        for (kind, text) in zip(FieldKind.all, texts) { bits.append(try kind.parse(text)) }
        minutes = bits[0]
        hours = UInt32(bits[1])
        daysOfMonth = UInt32(bits[2])
        months = UInt16(bits[3])
        daysOfWeek = UInt8((bits[4] | bits[4] >> 7) & 0x7F)  // 7 is Sunday too
        dayOfMonthIsStar = texts[2].hasPrefix("*")
        dayOfWeekIsStar = texts[4].hasPrefix("*")
        if neverRuns { throw CronFieldError(detail: "it never runs: \(missingDays)") }
    }

    /// Why no month has an allowed day, as "February has no day 30 or 31".
    private var missingDays: String {
        let monthNames = [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December",
        ]
        let allowedMonths = (1...12).filter { months >> $0 & 1 != 0 }
        let days = (1...31).filter { daysOfMonth >> $0 & 1 != 0 }.map(String.init)
        let verb = allowedMonths.count == 1 ? "has" : "have"
        return "\(spokenList(allowedMonths.map { monthNames[$0 - 1] }, "and")) \(verb) no day \(spokenList(days, "or"))"
    }
}

/// "a", "a and b", "a, b and c".
private func spokenList(_ items: [String], _ conjunction: String) -> String {
    guard items.count > 1 else { return items.first ?? "" }
    return items.dropLast().joined(separator: ", ") + " \(conjunction) " + items.last!
}

// MARK: - Calendar arithmetic

/// A time as whole milliseconds since the epoch, within the range of JavaScript dates.
struct EpochMilliseconds {
    /// One past the last JavaScript date, 8.64e15 ms (year 275760).
    static let end: Int64 = 8_640_000_000_000_000
    let value: Int64

    /// Rounds down, which keeps "strictly after" exact: a whole-millisecond run time is after `ms`
    /// exactly when it is after `floor(ms)`. `nil` when nothing can come after `ms`.
    init?(_ ms: Double) {
        guard ms < Double(Self.end) else { return nil }  // also NaN
        value = Int64(max(ms, -Double(Self.end)).rounded(.down))
    }
}

/// `a / b` rounded towards negative infinity, so times before 1970 fall on the right grid point.
func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

private func isLeapYear(_ year: Int64) -> Bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The longest a month can be, leap years included.
private func maxDays(_ month: Int) -> Int {
    month == 2 ? 29 : daysIn(month: month, leap: false)
}

private func daysIn(month: Int, leap: Bool) -> Int {
    switch month {
    case 2: leap ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}

/// Bits 1...n of a day-of-month set.
private func daysUpTo(_ n: Int) -> UInt32 {
    UInt32(truncatingIfNeeded: (UInt64(1) << (n + 1)) - 2)
}

/// A UTC calendar day, stepped forward without recomputing the date from scratch.
private struct UTCDate {
    private(set) var daysSinceEpoch: Int64
    private(set) var year: Int64
    private(set) var month: Int
    private(set) var day: Int
    /// 0 = Sunday.
    private(set) var weekday: Int

    /// The proleptic Gregorian date of a day number (Howard Hinnant's `civil_from_days`).
    init(daysSinceEpoch days: Int64) {
        daysSinceEpoch = days
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 = March
        day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        weekday = Int((days - floorDivide(days, 7) * 7 + 4) % 7)  // 1970-01-01 was a Thursday
    }

    mutating func advanceToNextDay() {
        advance(by: 1)
    }

    mutating func advanceToNextMonth() {
        advance(by: daysIn(month: month, leap: isLeapYear(year)) - day + 1)
    }

    private mutating func advance(by n: Int) {
        daysSinceEpoch += Int64(n)
        weekday = (weekday + n) % 7
        day += n
        let length = daysIn(month: month, leap: isLeapYear(year))
        if day > length {
            day -= length
            month += 1
            if month > 12 { (month, year) = (1, year + 1) }
        }
    }
}
