import Foundation
import HoneycombStats

/// What a comparison says about one metric.
public enum Verdict: String, Sendable {
    case better
    case worse
    /// A significant change of a metric with no better direction.
    case changed
    /// No significant change beyond the noise threshold.
    case same = "~"
}

/// Why two reports cannot be compared.
public struct ComparisonError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// One metric, base against new.
public struct ComparisonRow: Sendable {
    public var metric: String
    public var unit: String
    public var direction: Direction
    public var base: MeanInterval
    public var new: MeanInterval
    /// (new − base) / |base|, in percent; ±∞ from a zero base.
    public var deltaPercent: Double
    public var pValue: Double
    public var verdict: Verdict
}

/// Two reports of one scenario compared metric by metric, as a reviewer reads it: the paired
/// Wilcoxon signed-rank test when both ran on the same seeds (common random numbers), the
/// Mann–Whitney U test otherwise; a change counts only when significant after Holm's
/// correction across the report's directional metrics *and* beyond the metric's noise
/// threshold, and the metric's direction decides better or worse. A metric that had a value
/// and has none is worse.
public struct Comparison: Sendable {
    public var scenario: String
    public var paired: Bool
    public var rows: [ComparisonRow]
    public var notes: [String]

    /// Compares `new` against `base`. `thresholds` are fractions by metric name (0.01 = 1 %),
    /// `defaultThreshold` for the rest.
    public init(base: Report, new: Report, alpha: Double = 0.05, defaultThreshold: Double = 0.01,
                thresholds: [String: Double] = [:]) throws {
        guard base.run.scenario == new.run.scenario else {
            throw ComparisonError(description: "these are reports of different scenarios: '\(base.run.scenario)' "
                                  + "and '\(new.run.scenario)'")
        }
        scenario = base.run.scenario
        paired = base.run.replicationSeeds == new.run.replicationSeeds
        notes = []
        if base.run.scenarioFingerprint != new.run.scenarioFingerprint {
            notes.append("The scenario differs between the two runs (the file or its --set overrides changed).")
        }
        if base.run.durationSeconds != new.run.durationSeconds || base.run.warmupSeconds != new.run.warmupSeconds {
            notes.append("The runs differ in duration or warm-up: counts are not comparable.")
        }
        if !paired { notes.append("The runs used different seeds: unpaired Mann–Whitney U tests.") }
        var rows: [ComparisonRow] = []
        for b in base.metrics {
            guard let n = new[b.definition.name] else {
                notes.append("`\(b.definition.name)` is only in the base report.")
                continue
            }
            let test: RankTestResult
            if paired {
                let pairs = zip(b.values, n.values).filter { $0.0.isFinite && $0.1.isFinite }
                test = RankTests.wilcoxonSignedRank(pairs.map(\.0), pairs.map(\.1))
            } else {
                test = RankTests.mannWhitney(b.values.filter(\.isFinite), n.values.filter(\.isFinite))
            }
            let bm = b.interval.mean, nm = n.interval.mean
            let delta = bm == nm ? 0 : (nm - bm) / abs(bm) * 100
            rows.append(ComparisonRow(metric: b.definition.name, unit: b.definition.unit, direction: b.definition.direction,
                                      base: b.interval, new: n.interval, deltaPercent: delta, pValue: test.pValue,
                                      verdict: .same))
            let lost = b.values.filter(\.isFinite).count - n.values.filter(\.isFinite).count
            if bm.isFinite && !nm.isFinite {
                notes.append("`\(b.definition.name)` has no value in the new run.")
            } else if lost > 0 {
                notes.append("`\(b.definition.name)` has a value in \(lost) fewer replications in the new run.")
            }
        }
        // Many metrics are tested at once: Holm's step-down correction keeps the chance of
        // any false "better" or "worse" across the report's directional metrics below alpha.
        let tested = rows.indices.filter { rows[$0].direction != .neutral && rows[$0].pValue.isFinite }
            .sorted { (rows[$0].pValue, $0) < (rows[$1].pValue, $1) }
        var rejected = Set<Int>()
        for (k, i) in tested.enumerated() {
            if rows[i].pValue < alpha / Double(tested.count - k) { rejected.insert(i) } else { break }
        }
        for i in rows.indices {
            let r = rows[i]
            let threshold = (thresholds[r.metric] ?? defaultThreshold) * 100
            let beyond = abs(r.deltaPercent) > threshold
            switch r.direction {
            case .neutral:
                rows[i].verdict = r.pValue.isFinite && r.pValue < alpha && beyond ? .changed : .same
            case .lowerIsBetter, .higherIsBetter:
                if r.base.mean.isFinite && !r.new.mean.isFinite {
                    rows[i].verdict = .worse  // it had a value and has none
                } else if rejected.contains(i) && beyond {
                    let lower = r.new.mean < r.base.mean
                    rows[i].verdict = lower == (r.direction == .lowerIsBetter) ? .better : .worse
                }
            }
        }
        for name in thresholds.keys.sorted() where !rows.contains(where: { $0.metric == name }) {
            notes.append("No metric `\(name)` (from --metric-threshold) in these reports.")
        }
        for n in new.metrics where base[n.definition.name] == nil {
            notes.append("`\(n.definition.name)` is only in the new report.")
        }
        self.rows = rows
    }

    public var regressions: [ComparisonRow] { rows.filter { $0.verdict == .worse } }

    // MARK: rendering

    private static func interval(_ i: MeanInterval) -> String {
        Report.figure(i.mean) + (i.halfWidth.isFinite ? " ± " + Report.figure(i.halfWidth) : "")
    }

    private static func delta(_ d: Double) -> String {
        if d.isNaN { return "–" }
        if d.isInfinite { return d > 0 ? "+∞" : "−∞" }
        return (d >= 0 ? "+" : "") + String(format: "%.2f%%", d)
    }

    private static func p(_ p: Double) -> String { p.isFinite ? String(format: "%.3f", p) : "–" }

    private var header: String {
        "\(scenario): \(rows.count) metrics, \(regressions.count) worse, "
            + "\(rows.filter { $0.verdict == .better }.count) better (\(paired ? "paired Wilcoxon" : "Mann–Whitney U"))"
    }

    /// Rows worth a reviewer's eye first: worse, better, changed, then the rest.
    private var ordered: [ComparisonRow] {
        let rank: [Verdict: Int] = [.worse: 0, .better: 1, .changed: 2, .same: 3]
        return rows.enumerated().sorted { (rank[$0.element.verdict]!, $0.offset) < (rank[$1.element.verdict]!, $1.offset) }
            .map(\.element)
    }

    /// Aligned columns for a terminal.
    public func text() -> String {
        var table = [["metric", "base", "new", "delta", "p", "verdict"]]
        for r in ordered {
            table.append([r.metric, Self.interval(r.base), Self.interval(r.new), Self.delta(r.deltaPercent), Self.p(r.pValue),
                          r.verdict.rawValue])
        }
        let widths = (0..<6).map { c in table.map { $0[c].count }.max()! }
        var out = header + "\n"
        for row in table {
            out += row.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ") + "\n"
        }
        for n in notes { out += "note: \(n)\n" }
        return out
    }

    /// A table for a pull-request comment.
    public func markdown() -> String {
        var out = "### \(scenario)\n\n\(regressions.isEmpty ? "✅" : "❌") " + header + "\n\n"
        out += "| metric | base | new | delta | p | |\n|---|---:|---:|---:|---:|---|\n"
        for r in ordered {
            let mark = r.verdict == .worse ? "**worse**" : r.verdict == .better ? "better" : r.verdict.rawValue
            out += "| `\(r.metric)` | \(Self.interval(r.base)) | \(Self.interval(r.new)) | \(Self.delta(r.deltaPercent)) "
                + "| \(Self.p(r.pValue)) | \(mark) |\n"
        }
        if !notes.isEmpty { out += "\n" + notes.map { "- \($0)" }.joined(separator: "\n") + "\n" }
        return out
    }

    public func json() -> JSONValue {
        .object([
            "scenario": .string(scenario),
            "paired": .bool(paired),
            "worse": .number(Double(regressions.count)),
            "notes": .array(notes.map(JSONValue.string)),
            "metrics": .array(rows.map { r in
                .object(["metric": .string(r.metric), "unit": .string(r.unit), "direction": .string(r.direction.rawValue),
                         "base": .number(r.base.mean), "new": .number(r.new.mean),
                         "baseHalfWidth": .number(r.base.halfWidth), "newHalfWidth": .number(r.new.halfWidth),
                         "deltaPercent": .number(r.deltaPercent), "p": .number(r.pValue),
                         "verdict": .string(r.verdict.rawValue)])
            }),
        ])
    }
}
