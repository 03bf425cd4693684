import Foundation
import HoneycombCore
import HoneycombReport
import HoneycombStats
import Synchronization

/// How far a run has come, for a progress line.
public struct RunProgress: Sendable {
    public var done: Int
    public var total: Int
    /// Events processed so far (counted in steps of 2¹⁸).
    public var events: Int
    /// The virtual time the reporting replication has reached, and its end.
    public var virtualTime: Instant
    public var duration: TimeSpan
}

/// Runs a scenario's replications and assembles the report.
public enum SimulationRunner {
    /// How a run should decide its number of replications.
    public enum Replications: Sendable {
        /// The scenario's own count.
        case scenario
        case exactly(Int)
        /// Add replications (from the scenario's count, at least 2) until every headline
        /// metric's 95 % half-width is within `target` of its mean (0.05 = 5 %), at most `cap`.
        case precision(target: Double, cap: Int)
    }

    /// Runs replications seeded from `seed`, `parallelism` at a time. Results are gathered by
    /// replication index, so the report does not depend on which replication finishes first.
    /// With `warmup: auto` in the scenario, a pilot replication chooses the warm-up first
    /// (MSER-5). `progress` is called (from any thread) as each replication ends and every
    /// 2¹⁸ events, with how far the run has come.
    public static func run(_ scenario: Scenario, seed: UInt64? = nil, replications: Int? = nil,
                           parallelism: Int = 1, precision: (target: Double, cap: Int)? = nil,
                           progress: (@Sendable (RunProgress) -> Void)? = nil)
        -> (Report, events: Int, decisions: Int, series: [RunSeries]) {
        let seed = seed ?? scenario.seed
        var scenario = scenario
        var warmupNote: String?
        if scenario.autoWarmup {
            let pilot = runReplications(scenario, seed: seed, indices: 0..<1, parallelism: 1, progress: nil)[0]
            scenario.warmup = Warmup.mser5(pilot.series, sampleEvery: scenario.sampleEvery, duration: scenario.duration)
            warmupNote = "The warm-up (\(scenario.warmup)) was chosen by MSER-5 on a pilot replication's utilization, "
                + "queue length and executors online."
        }
        var n = replications ?? scenario.replications
        var all: [ReplicationResult] = []
        var outcome: PrecisionOutcome?
        if let precision {
            n = min(max(2, n), precision.cap)
            all = runReplications(scenario, seed: seed, indices: 0..<n, parallelism: parallelism, progress: progress)
            let headline = headlineMetrics(scenario)
            while true {
                let report = report(scenario, seed: seed, all)
                let widest = headline.compactMap { report[$0] }.map { m -> Double in
                    let hw = m.interval.halfWidth, mean = abs(m.interval.mean)
                    if hw == 0 { return 0 }
                    return hw.isFinite && mean > 0 ? hw / mean : .infinity
                }.max() ?? 0
                if widest <= precision.target || all.count >= precision.cap {
                    outcome = PrecisionOutcome(target: precision.target, metrics: headline, met: widest <= precision.target,
                                               cap: precision.cap)
                    break
                }
                // Grow by half again, within the cap (never by how many run at once: the
                // stopping point must not depend on the machine).
                let more = min(precision.cap - all.count, max(1, all.count / 2))
                all += runReplications(scenario, seed: seed, indices: all.count..<(all.count + more),
                                       parallelism: parallelism, progress: progress)
            }
        } else {
            all = runReplications(scenario, seed: seed, indices: 0..<n, parallelism: parallelism, progress: progress)
        }
        var report = report(scenario, seed: seed, all)
        report.run.precision = outcome
        report.run.warmupNote = warmupNote
        return (report, all.reduce(0) { $0 + $1.events }, all.reduce(0) { $0 + $1.decisions }, all.map(\.series))
    }

    /// The metrics `--precision` holds to its target.
    static func headlineMetrics(_ scenario: Scenario) -> [String] {
        var out = [SimMetrics.waitMean.name, SimMetrics.turnaroundMean.name, SimMetrics.utilization.name]
        if scenario.llm != nil { out += [SimMetrics.llmLatency("mean").name, SimMetrics.llmCost.name] }
        return out
    }

    static func runReplications(_ scenario: Scenario, seed: UInt64, indices: Range<Int>, parallelism: Int,
                                progress: (@Sendable (RunProgress) -> Void)?) -> [ReplicationResult] {
        let n = indices.count
        let results = Mutex<[ReplicationResult?]>(Array(repeating: nil, count: n))
        let done = Atomic<Int>(0)
        let events = Atomic<Int>(0)
        let workers = max(1, min(parallelism, n))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var k = worker
            while k < n {
                var sim = Simulation(scenario: scenario, seed: seed, replication: indices.lowerBound + k)
                if let progress {
                    sim.onProgress = { t in
                        let e = events.add(0x40000, ordering: .relaxed).newValue
                        progress(RunProgress(done: done.load(ordering: .relaxed), total: n, events: e, virtualTime: t,
                                             duration: scenario.duration))
                    }
                }
                let result = sim.run()
                results.withLock { $0[k] = result }
                let finished = done.add(1, ordering: .relaxed).newValue
                progress?(RunProgress(done: finished, total: n, events: events.load(ordering: .relaxed),
                                      virtualTime: .zero + scenario.duration, duration: scenario.duration))
                k += workers
            }
        }
        return results.withLock { $0.map { $0! } }
    }

    static func report(_ scenario: Scenario, seed: UInt64, _ results: [ReplicationResult]) -> Report {
        let definitions = results.first?.values.map(\.0) ?? []
        let metrics = definitions.enumerated().map { k, d in MetricResult(d, values: results.map { $0.values[k].1 }) }
        let run = RunDescription(scenario: scenario.name, scenarioFingerprint: scenario.fingerprint, seed: seed,
                                 replicationSeeds: results.map(\.seed),
                                 durationSeconds: scenario.duration.seconds, warmupSeconds: scenario.warmup.seconds)
        return Report(run: run, metrics: metrics)
    }
}

/// Choosing the warm-up from the data.
public enum Warmup {
    /// MSER-5 (White 1997; Franklin & White): batch the series in means of 5, and truncate at
    /// the batch d that minimises the squared standard error of the remaining batch means,
    /// Σ(b − b̄)² / (m − d)², searching the first half. The warm-up is the latest truncation
    /// over the series given, as a time.
    public static func mser5(_ series: RunSeries, sampleEvery: TimeSpan, duration: TimeSpan) -> TimeSpan {
        var latest = 0
        for ys in [series.utilization, series.queued, series.online] {
            // A sample with nothing to measure (no executor up) counts as zero, so that batch d
            // still begins at sample 5d.
            let batches = stride(from: 0, to: ys.count - 4, by: 5).map { i in
                ys[i..<(i + 5)].reduce(0) { $0 + ($1.isFinite ? $1 : 0) } / 5
            }
            let m = batches.count
            guard m >= 4 else { continue }
            var best = 0
            var bestValue = Double.infinity
            for d in 0..<(m / 2) {
                let rest = batches[d...]
                let mean = rest.reduce(0, +) / Double(rest.count)
                let value = rest.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rest.count * rest.count)
                if value < bestValue { bestValue = value; best = d }
            }
            latest = max(latest, best)
        }
        // Samples are taken at sampleEvery, 2·sampleEvery, …: batch d starts after 5d of them.
        let warmup = sampleEvery * Int64(latest * 5)
        return min(warmup, TimeSpan(nanoseconds: duration.nanoseconds / 2))
    }
}
