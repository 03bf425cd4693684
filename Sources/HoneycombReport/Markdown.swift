import Foundation

extension Report {
    /// The summary a person reads (`report.md`), fit for a pull-request comment.
    public func markdown() -> String {
        var out = "# Simulation report: \(run.scenario)\n\n"
        let n = run.replicationSeeds.count
        out += "Seed \(run.seed), \(n) replication\(n == 1 ? "" : "s") of "
        out += "\(Self.humanSeconds(run.durationSeconds)) each, warm-up \(Self.humanSeconds(run.warmupSeconds)) discarded. "
        out += "Intervals are 95 % Student-t intervals across replications.\n\n"
        if let note = run.warmupNote { out += note + "\n\n" }
        if let p = run.precision {
            out += "Replications were added until every headline metric's half-width was within "
                + "\(Self.figure(p.target * 100)) % of its mean (" + p.metrics.map { "`\($0)`" }.joined(separator: ", ") + "): "
                + (p.met ? "met with \(n) replications.\n\n" : "**not met** by the cap of \(p.cap) replications.\n\n")
        }
        out += "| metric | unit | mean | ± 95 % | min | max | better |\n"
        out += "|---|---|---:|---:|---:|---:|---|\n"
        for m in metrics {
            let hw = m.interval.halfWidth
            let better: String
            switch m.definition.direction {
            case .lowerIsBetter: better = "lower"
            case .higherIsBetter: better = "higher"
            case .neutral: better = ""
            }
            out += "| `\(m.definition.name)` | \(m.definition.unit) | \(Self.figure(m.interval.mean)) | "
            out += "\(hw.isFinite ? Self.figure(hw) : "–") | \(Self.figure(m.min)) | \(Self.figure(m.max)) | \(better) |\n"
        }
        return out
    }

    /// Four significant figures, plain digits where that reads better.
    public static func figure(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "–" : (x > 0 ? "∞" : "-∞") }
        if x == x.rounded() && abs(x) < 1e9 { return String(Int64(x)) }
        let a = abs(x)
        if a >= 1e-3 && a < 1e9 {
            let decimals = max(0, 3 - Int(log10(a).rounded(.down)))
            return String(format: "%.\(decimals)f", x)
        }
        return String(format: "%.3e", x)
    }

    static func humanSeconds(_ s: Double) -> String {
        if s == 0 { return "0s" }
        if s.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(s / 3600))h" }
        if s.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(s / 60))m" }
        return "\(figure(s))s"
    }
}
