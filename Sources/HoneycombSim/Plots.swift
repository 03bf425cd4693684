import HoneycombReport

extension RunSeries {
    /// The mean across replications at each sample (NaNs left out), and the mean quantile
    /// function of waits.
    public static func mean(of runs: [RunSeries]) -> RunSeries {
        guard let first = runs.first else { return RunSeries() }
        func mean(_ pick: (RunSeries) -> [Double], count: Int) -> [Double] {
            (0..<count).map { i in
                let v = runs.compactMap { r -> Double? in
                    let xs = pick(r)
                    return i < xs.count && xs[i].isFinite ? xs[i] : nil
                }
                return v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count)
            }
        }
        var out = RunSeries()
        let n = first.times.count
        out.times = first.times
        out.online = mean(\.online, count: n)
        out.utilization = mean(\.utilization, count: n)
        out.queued = mean(\.queued, count: n)
        out.llmLocal = mean(\.llmLocal, count: n)
        out.llmPeer = mean(\.llmPeer, count: n)
        out.llmCloud = mean(\.llmCloud, count: n)
        let withWaits = runs.filter { !$0.waitQuantiles.isEmpty }
        if !withWaits.isEmpty { out.waitQuantiles = mean(\.waitQuantiles, count: levels.count) }
        return out
    }

    /// `series.json`: the series as canonical JSON, so that `compare` can draw two runs together.
    public func json() -> JSONValue {
        func array(_ xs: [Double]) -> JSONValue { .array(xs.map(JSONValue.number)) }
        return .object(["times": array(times), "online": array(online), "utilization": array(utilization),
                        "queued": array(queued), "llmLocal": array(llmLocal), "llmPeer": array(llmPeer),
                        "llmCloud": array(llmCloud), "waitQuantiles": array(waitQuantiles)])
    }

    /// Reads `series.json`; nil when it is not one.
    public init?(json: JSONValue) {
        guard case .object(let o) = json else { return nil }
        func array(_ key: String) -> [Double]? {
            guard case .array(let a)? = o[key] else { return nil }
            return a.map { if case .number(let x) = $0 { x } else { .nan } }
        }
        guard let times = array("times") else { return nil }
        self.init()
        self.times = times
        online = array("online") ?? []
        utilization = array("utilization") ?? []
        queued = array("queued") ?? []
        llmLocal = array("llmLocal") ?? []
        llmPeer = array("llmPeer") ?? []
        llmCloud = array("llmCloud") ?? []
        waitQuantiles = array("waitQuantiles") ?? []
    }
}

/// The plots a simulation writes beside its report, and `compare` draws for two runs: one
/// line per named series (a run's mean across replications) on shared axes.
public enum Plots {
    /// (file name, title, SVG text) for each plot that has data.
    public static func charts(_ runs: [(name: String, series: RunSeries)], llm: Bool)
        -> [(file: String, title: String, svg: String)] {
        let runs = runs.filter { !$0.series.times.isEmpty }
        guard !runs.isEmpty else { return [] }
        func line(_ name: String, _ s: RunSeries, _ ys: [Double]) -> SVGChart.Series {
            SVGChart.Series(name: name, points: zip(s.times.map { $0 / 3600 }, ys).map { (x: $0, y: $1) })
        }
        var out: [(String, String, SVGChart)] = []
        let withWaits = runs.filter { !$0.series.waitQuantiles.isEmpty }
        if !withWaits.isEmpty {
            // Up to the 99th percentile: a long tail would squash the rest against the axis.
            let shown = RunSeries.levels.indices.filter { RunSeries.levels[$0] <= 0.99 }
            out.append(("wait-cdf.svg", "Task wait (CDF)", SVGChart(
                title: "Task wait: cumulative distribution up to the 99th percentile", xLabel: "wait (s)",
                yLabel: "share of tasks",
                series: withWaits.map { r in
                    SVGChart.Series(name: r.name, points: shown.map { (x: r.series.waitQuantiles[$0], y: RunSeries.levels[$0]) })
                },
                yRange: 0...1, steps: true)))
        }
        out.append(("utilization.svg", "Utilization", SVGChart(
            title: "Utilization of the executors that are up", xLabel: "time (h)", yLabel: "busy slots / slots",
            series: runs.map { line($0.name, $0.series, $0.series.utilization) }, yRange: 0...1)))
        out.append(("online.svg", "Online executors", SVGChart(
            title: "Executors online", xLabel: "time (h)", yLabel: "executors",
            series: runs.map { line($0.name, $0.series, $0.series.online) })))
        out.append(("queue.svg", "Queue length", SVGChart(
            title: "Tasks waiting to be placed", xLabel: "time (h)", yLabel: "tasks",
            series: runs.map { line($0.name, $0.series, $0.series.queued) })))
        if llm {
            let prefix = runs.count > 1
            out.append(("llm-share.svg", "Where LLM calls go", SVGChart(
                title: "LLM calls served locally, by peers and in the cloud", xLabel: "time (h)", yLabel: "share of calls",
                series: runs.flatMap { r in
                    [("local", r.series.llmLocal), ("peer", r.series.llmPeer), ("cloud", r.series.llmCloud)].map {
                        line(prefix ? "\(r.name) \($0.0)" : $0.0, r.series, $0.1)
                    }
                },
                yRange: 0...1)))
        }
        return out.map { ($0.0, $0.1, $0.2.svg()) }
    }
}
