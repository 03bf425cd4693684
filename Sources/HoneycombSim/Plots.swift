import HoneycombReport

/// The plots a simulation writes beside its report: averages across replications at each
/// sample time, and the mean quantile function of task waits.
public enum Plots {
    /// (file name, title, SVG text) for each plot that has data.
    public static func charts(_ runs: [RunSeries], llm: Bool) -> [(file: String, title: String, svg: String)] {
        guard let first = runs.first, !first.times.isEmpty else { return [] }
        let hours = first.times.map { $0 / 3600 }
        /// The mean across replications at each sample (NaNs left out).
        func mean(_ pick: (RunSeries) -> [Double]) -> [Double] {
            hours.indices.map { i in
                let v = runs.compactMap { r -> Double? in
                    let xs = pick(r)
                    return i < xs.count && xs[i].isFinite ? xs[i] : nil
                }
                return v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
            }
        }
        func line(_ name: String, _ ys: [Double]) -> SVGChart.Series {
            SVGChart.Series(name: name, points: zip(hours, ys).map { (x: $0, y: $1) })
        }
        var out: [(String, String, SVGChart)] = []
        let withWaits = runs.filter { !$0.waitQuantiles.isEmpty }
        if !withWaits.isEmpty {
            // Up to the 99th percentile: a long tail would squash the rest against the axis.
            let shown = RunSeries.levels.indices.filter { RunSeries.levels[$0] <= 0.99 }
            let q = shown.map { i in withWaits.reduce(0) { $0 + $1.waitQuantiles[i] } / Double(withWaits.count) }
            out.append(("wait-cdf.svg", "Task wait (CDF)", SVGChart(
                title: "Task wait: cumulative distribution up to the 99th percentile", xLabel: "wait (s)",
                yLabel: "share of tasks",
                series: [SVGChart.Series(name: "mean of \(withWaits.count) replications",
                                         points: zip(q, shown.map { RunSeries.levels[$0] }).map { (x: $0, y: $1) })],
                yRange: 0...1, steps: true)))
        }
        out.append(("utilization.svg", "Utilization", SVGChart(
            title: "Utilization of the executors that are up", xLabel: "time (h)", yLabel: "busy slots / slots",
            series: [line("mean", mean(\.utilization))], yRange: 0...1)))
        out.append(("online.svg", "Online executors", SVGChart(
            title: "Executors online", xLabel: "time (h)", yLabel: "executors", series: [line("mean", mean(\.online))])))
        out.append(("queue.svg", "Queue length", SVGChart(
            title: "Tasks waiting to be placed", xLabel: "time (h)", yLabel: "tasks", series: [line("mean", mean(\.queued))])))
        if llm {
            out.append(("llm-share.svg", "Where LLM calls go", SVGChart(
                title: "LLM calls served locally, by peers and in the cloud", xLabel: "time (h)", yLabel: "share of calls",
                series: [line("local", mean(\.llmLocal)), line("peer", mean(\.llmPeer)), line("cloud", mean(\.llmCloud))],
                yRange: 0...1)))
        }
        return out.map { ($0.0, $0.1, $0.2.svg()) }
    }
}
