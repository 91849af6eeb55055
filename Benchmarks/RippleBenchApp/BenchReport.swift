import Foundation

/// The lines `scripts/bench` collects from every benchmark program: `BENCH <name> <value> <unit>
/// target <t> <met|missed>` for a figure with a target (issue 17's table) and `METRIC <name>
/// <value> <unit>` for the figures behind it; scripts/bench turns both into
/// bench-results/<part>.json and the summary table.
public enum BenchReport {
    /// A figure with a target; `atLeast` says which side of the target meets it.
    public static func bench(_ name: String, _ value: Double, _ unit: String, target: Double, atLeast: Bool) {
        let met = atLeast ? value >= target : value <= target
        print("BENCH \(name) \(format(value)) \(unit) target \(atLeast ? ">=" : "<=")\(format(target)) \(met ? "met" : "missed")")
    }

    public static func metric(_ name: String, _ value: Double, _ unit: String) {
        print("METRIC \(name) \(format(value)) \(unit)")
    }

    /// Whole numbers as they are, others to three significant digits (enough for ratios and ms).
    public static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e12 { return String(Int64(value)) }
        return abs(value) >= 100 ? String(format: "%.0f", value) : String(format: "%.3g", value)
    }
}
