import Foundation

/// One point of a parameter sweep: the values it set and the report it produced.
public struct SweepPoint: Sendable {
    public var parameters: [(path: String, value: String)]
    public var report: Report
    public init(parameters: [(path: String, value: String)], report: Report) {
        self.parameters = parameters
        self.report = report
    }
}

/// The table a sweep writes: each point's metrics with confidence intervals, the Pareto
/// front on chosen metrics, and the best point for an objective.
public struct SweepTable: Sendable {
    public var points: [SweepPoint]
    /// Metrics shown, in order.
    public var metrics: [String]
    /// Metrics the Pareto front is taken on (each must have a direction).
    public var pareto: [String]
    /// The metric to optimise, in its own direction.
    public var objective: String?

    public init(points: [SweepPoint], metrics: [String], pareto: [String], objective: String?) {
        self.points = points
        self.metrics = metrics
        self.pareto = pareto
        self.objective = objective
    }

    private func mean(_ p: Int, _ metric: String) -> Double? { points[p].report[metric]?.interval.mean }

    /// `a` is at least as good as `b` on `metric` (by its direction), or strictly better.
    private func better(_ a: Double, _ b: Double, _ d: Direction, strictly: Bool) -> Bool {
        switch d {
        case .lowerIsBetter: strictly ? a < b : a <= b
        case .higherIsBetter: strictly ? a > b : a >= b
        case .neutral: !strictly
        }
    }

    private func direction(_ metric: String) -> Direction {
        points.lazy.compactMap { $0.report[metric]?.definition.direction }.first ?? .neutral
    }

    /// Indices of the points no other point beats on every Pareto metric (means compared).
    public func paretoFront() -> [Int] {
        guard !pareto.isEmpty else { return [] }
        let dirs = pareto.map(direction)
        func values(_ p: Int) -> [Double]? {
            let v = pareto.compactMap { mean(p, $0) }
            return v.count == pareto.count && v.allSatisfy(\.isFinite) ? v : nil
        }
        let candidates = points.indices.filter { values($0) != nil }
        return candidates.filter { i in
            let vi = values(i)!
            return !candidates.contains { j in
                guard j != i else { return false }
                let vj = values(j)!
                return zip(zip(vj, vi), dirs).allSatisfy { better($0.0, $0.1, $1, strictly: false) }
                    && zip(zip(vj, vi), dirs).contains { better($0.0, $0.1, $1, strictly: true) }
            }
        }
    }

    /// The point with the best mean of the objective (the first, on a tie).
    public func best() -> Int? {
        guard let objective else { return nil }
        let d = direction(objective)
        var best: Int?
        for p in points.indices {
            guard let v = mean(p, objective), v.isFinite else { continue }
            if best == nil || better(v, mean(best!, objective)!, d, strictly: true) { best = p }
        }
        return best
    }

    public func markdown() -> String {
        let params = points.first?.parameters.map(\.path) ?? []
        let front = Set(paretoFront())
        let top = best()
        var out = "| # | " + (params + metrics).map { "`\($0)`" }.joined(separator: " | ") + " | |\n"
        out += "|---|" + String(repeating: "---|", count: params.count) + String(repeating: "---:|", count: metrics.count) + "---|\n"
        for (i, p) in points.enumerated() {
            var cells = ["\(i + 1)"] + p.parameters.map(\.value)
            for m in metrics {
                guard let r = p.report[m] else { cells.append("–"); continue }
                let hw = r.interval.halfWidth
                cells.append(Report.figure(r.interval.mean) + (hw.isFinite ? " ± " + Report.figure(hw) : ""))
            }
            var marks: [String] = []
            if i == top { marks.append("**best**") }
            if front.contains(i) { marks.append("pareto") }
            cells.append(marks.joined(separator: ", "))
            out += "| " + cells.joined(separator: " | ") + " |\n"
        }
        if let objective, let top {
            out += "\nBest for `\(objective)` (\(direction(objective).rawValue) is better): point \(top + 1), "
                + points[top].parameters.map { "\($0.path)=\($0.value)" }.joined(separator: ", ") + ".\n"
        }
        if !pareto.isEmpty {
            out += "Pareto front on " + pareto.map { "`\($0)`" }.joined(separator: ", ") + ": points "
                + paretoFront().map { String($0 + 1) }.joined(separator: ", ") + ".\n"
        }
        out += "\nValues are means ± 95 % half-widths over the same replication seeds at every point.\n"
        return out
    }

    public func csv() -> String {
        let params = points.first?.parameters.map(\.path) ?? []
        let front = Set(paretoFront())
        let top = best()
        var header = ["point"] + params
        for m in metrics { header += [m + ".mean", m + ".ci95_low", m + ".ci95_high"] }
        header += ["pareto", "best"]
        var out = header.map(quoted).joined(separator: ",") + "\n"
        for (i, p) in points.enumerated() {
            var row = [String(i + 1)] + p.parameters.map(\.value)
            for m in metrics {
                if let r = p.report[m] {
                    row += [r.interval.mean, r.interval.low, r.interval.high].map { $0.isFinite ? JSONValue.format($0) : "" }
                } else {
                    row += ["", "", ""]
                }
            }
            row += [front.contains(i) ? "1" : "0", i == top ? "1" : "0"]
            out += row.map(quoted).joined(separator: ",") + "\n"
        }
        return out
    }

    private func quoted(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
