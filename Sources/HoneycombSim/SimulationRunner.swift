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
    /// Runs `replications` independent replications seeded from `seed`, `parallelism` at a
    /// time. Results are gathered by replication index, so the report does not depend on which
    /// replication finishes first. `progress` is called (from any thread) as each one ends
    /// and every 2¹⁸ events, with how far the run has come.
    public static func run(_ scenario: Scenario, seed: UInt64? = nil, replications: Int? = nil,
                           parallelism: Int = 1,
                           progress: (@Sendable (RunProgress) -> Void)? = nil)
        -> (Report, events: Int, decisions: Int, series: [RunSeries]) {
        let seed = seed ?? scenario.seed
        let n = replications ?? scenario.replications
        let results = Mutex<[ReplicationResult?]>(Array(repeating: nil, count: n))
        let done = Atomic<Int>(0)
        let events = Atomic<Int>(0)
        let workers = max(1, min(parallelism, n))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var r = worker
            while r < n {
                var sim = Simulation(scenario: scenario, seed: seed, replication: r)
                if let progress {
                    sim.onProgress = { t in
                        let e = events.add(0x40000, ordering: .relaxed).newValue
                        progress(RunProgress(done: done.load(ordering: .relaxed), total: n, events: e, virtualTime: t,
                                             duration: scenario.duration))
                    }
                }
                let result = sim.run()
                results.withLock { $0[r] = result }
                let finished = done.add(1, ordering: .relaxed).newValue
                progress?(RunProgress(done: finished, total: n, events: events.load(ordering: .relaxed),
                                      virtualTime: .zero + scenario.duration, duration: scenario.duration))
                r += workers
            }
        }
        let all = results.withLock { $0.map { $0! } }
        return (report(scenario, seed: seed, all), all.reduce(0) { $0 + $1.events }, all.reduce(0) { $0 + $1.decisions },
                all.map(\.series))
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
