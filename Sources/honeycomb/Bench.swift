import ArgumentParser
import Foundation
import HoneycombCore
import HoneycombReport
import HoneycombSim

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the simulator's speed (build with -c release).",
        discussion: """
        engine: the event heap alone (hold model: pop one event, push one, 10,000 pending).
        scenario: a full scenario, one replication on one core (default Scenarios/bench/fleet-10k.yaml).
        placement: the control plane alone placing tasks on 10,000 executors: saturated with
        1,000+ tasks queued, and half-loaded with adaptive, exact and power-of-two scoring.
        routing: the LLM router alone, calls from 10,000 executors serving a model locally.
        """)

    @Argument(help: "What to measure: engine, scenario, placement, routing or all.")
    var what: String = "all"

    @Option(help: "Scenario for the 'scenario' benchmark.")
    var scenario: String = "Scenarios/bench/fleet-10k.yaml"

    @Option(help: "Events for the engine benchmark.")
    var events: Int = 20_000_000

    func run() throws {
        #if DEBUG
        print("warning: a debug build; benchmark figures mean nothing until built with -c release")
        #endif
        guard ["engine", "scenario", "placement", "routing", "all"].contains(what) else {
            throw ValidationError("expected engine, scenario, placement, routing or all, got '\(what)'")
        }
        if what == "engine" || what == "all" {
            let watch = Stopwatch()
            var checksum: Int64 = 0
            watch.measure { checksum = EngineBenchmark.hold(pending: 10_000, events: events, seed: 1) }
            let s = watch.seconds
            print("engine: \(events) events in \(Report.figure(s)) s = "
                  + "\(Report.figure((Double(events) / s).rounded())) events/s (checksum \(checksum))")
        }
        if what == "placement" || what == "all" { placement() }
        if what == "routing" || what == "all" {
            let watch = Stopwatch()
            let r = RoutingBenchmark.run(executors: 10_000, steps: 2_000_000, measure: watch.measure)
            let s = watch.seconds
            print("routing: 10000 executors, \(r.decisions) decisions in \(Report.figure(s)) s = "
                  + "\(Report.figure((Double(r.decisions) / s).rounded())) decisions/s "
                  + "(local \(r.local), peer \(r.peer), cloud \(r.cloud), rejected \(r.rejected))")
        }
        if what == "scenario" || what == "all" {
            let loaded: Scenario
            do { loaded = try Scenario.load(path: scenario) } catch let e as ScenarioError { throw CLIFailure(e.description) }
            let watch = Stopwatch()
            var result: (Report, events: Int, decisions: Int, series: [RunSeries])?
            watch.measure { result = SimulationRunner.run(loaded, replications: 1, parallelism: 1) }
            let (report, count, decisions, _) = result!
            let s = watch.seconds
            let runtime = RuntimeFigures(wallSeconds: s, events: count, decisions: decisions,
                                         peakResidentBytes: peakResidentBytes())
            let executors = loaded.pools.reduce(0) { $0 + $1.count }
            print("scenario \(loaded.name): \(executors) executors, "
                  + "\(Int(report[SimMetrics.submitted.name]?.interval.mean ?? 0)) tasks submitted after warm-up, "
                  + "\(Int(report[SimMetrics.completed.name]?.interval.mean ?? 0)) completed")
            print("scenario " + runtimeLine(runtime))
        }
    }

    private func placement() {
        let policy = SchedulerPolicy(binpack: 0.3, leastLoaded: 1, candidates: .adaptive)
        let watch = Stopwatch()
        let saturated = PlacementBenchmark.saturated(executors: 10_000, queued: 2_000, steps: 500_000, policy: policy,
                                                     measure: watch.measure)
        print("placement, saturated: \(saturated.executors) executors, \(saturated.queuedAtEnd) tasks queued, "
              + "\(saturated.decisions) decisions in \(Report.figure(watch.seconds)) s = "
              + "\(Report.figure((Double(saturated.decisions) / watch.seconds).rounded())) decisions/s")
        for (name, p) in [("adaptive", policy),
                          ("exact", SchedulerPolicy(binpack: 0.3, leastLoaded: 1, candidates: .all)),
                          ("powerOfTwo", SchedulerPolicy(binpack: 0.3, leastLoaded: 1, candidates: .powerOfTwo))] {
            let steps = name == "exact" ? 20_000 : 200_000
            let half = PlacementBenchmark.halfLoaded(executors: 10_000, steps: steps, policy: p, measure: watch.measure)
            print("placement, half-loaded, \(name): \(half.decisions) decisions in \(Report.figure(watch.seconds)) s = "
                  + "\(Report.figure((Double(half.decisions) / watch.seconds).rounded())) decisions/s")
        }
    }

}

/// Times the work it is handed, on the wall clock (benchmarks only).
final class Stopwatch {
    private(set) var seconds = 0.0

    func measure(_ work: () -> Void) {
        let start = ContinuousClock.now
        work()
        let d = ContinuousClock.now - start
        seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
