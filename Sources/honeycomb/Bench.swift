import ArgumentParser
import Foundation
import HoneycombCore
import HoneycombReport
import HoneycombSim

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the simulator's speed (build with -c release).",
        discussion: """
        engine: the event queue alone (hold model: pop one event, push one), 10⁴ and 10⁶ pending,
        the simulator's 4-ary heap beside a ladder queue and a binary heap.
        scenario: a full scenario, one replication on one core (default Scenarios/bench/fleet-10k.yaml).
        placement: the control plane alone: 10,000 executors saturated with 1,000+ tasks queued;
        then half-loaded fleets of 10⁴ and 10⁵ executors with adaptive, exact, power-of-two and
        sampled (reliability) scoring, and the ratio between the sizes; then preemption on fleets
        of 10⁴ and 10⁵ executors full of low-priority work, adaptive and exact.
        routing: the LLM router alone, calls from 10⁴ and 10⁵ executors serving a model locally.
        simpy: the M/M/8 queue (Scenarios/bench/mm8.yaml) here and in SimPy (deploy/bench/mm8_simpy.py),
        one after the other, --rounds times, with both mean waits beside Erlang C's and the ratio of
        the best rounds.
        scale: the scenario's shape (default fleet-10k) scaled to 10³, 10⁴, 10⁵ and 10⁶ executors,
        pools and rates alike, each run in a process of its own (for its own peak memory), the sizes
        interleaved over --rounds rounds: events/s (the best round), decisions/s, peak memory, and
        the ratios between the sizes.
        presence: executor presence in Redis (--redis, or HONEYCOMB_REDIS_URL; deploy/local/services.sh
        starts one): --executors heartbeats one command each and batched, and a refill of the fleet
        beside the scan it replaced, --rounds times (not part of 'all': it needs a Redis).
        """)

    @Argument(help: "What to measure: engine, scenario, placement, routing, simpy, scale, presence or all (all but scale and presence).")
    var what: String = "all"

    @Option(help: "Scenario for the 'scenario' benchmark.")
    var scenario: String = "Scenarios/bench/fleet-10k.yaml"

    @Option(help: "Events for the engine benchmark.")
    var events: Int = 20_000_000

    @Option(help: "Executor counts for 'scale', comma-separated.")
    var sizes: String = "1000,10000,100000,1000000"

    @Option(help: "For 'scale': the least simulated time of a run, in seconds. Each size runs the scenario's duration × (its executors ÷ this size), so that every size does about the same work, but never less than this.")
    var minSeconds: Double = 300

    @Option(help: "For 'scale' and 'simpy': rounds, interleaved over the sizes (or the two simulators); each one's best round is compared (a size whose run takes over 30 s runs once).")
    var rounds: Int = 3

    @Option(help: "For 'presence': the Redis to measure (default: HONEYCOMB_REDIS_URL).")
    var redis: String?

    @Option(help: "For 'presence': the fleet's size (default 100000).")
    var executors: Int = 0
    @Option(help: .hidden) var seconds: Double = 0

    func run() async throws {
        #if DEBUG
        print("warning: a debug build; benchmark figures mean nothing until built with -c release")
        #endif
        guard ["engine", "scenario", "placement", "routing", "simpy", "scale", "scale-point", "presence", "all"].contains(what) else {
            throw ValidationError("expected engine, scenario, placement, routing, simpy, scale, presence or all, got '\(what)'")
        }
        if what == "presence" {
            guard let url = redis ?? ProcessInfo.processInfo.environment["HONEYCOMB_REDIS_URL"] else {
                throw ValidationError("bench presence: pass --redis redis://127.0.0.1:PORT or set HONEYCOMB_REDIS_URL")
            }
            guard executors >= 0, rounds >= 1 else { throw ValidationError("bench presence: --executors and --rounds must be positive") }
            return try await PresenceBenchmark.run(url: url, executors: executors == 0 ? 100_000 : executors, rounds: rounds)
        }
        if what == "scale" { return try scale() }
        if what == "scale-point" { return try scalePoint() }
        if what == "engine" || what == "all" { engine() }
        if what == "placement" || what == "all" { placement() }
        if what == "simpy" || what == "all" { try simpy() }
        if what == "routing" || what == "all" {
            var rates: [Double] = []
            for n in [10_000, 100_000] {
                let watch = Stopwatch()
                let r = RoutingBenchmark.run(executors: n, steps: 2_000_000, measure: watch.measure)
                let rate = Double(r.decisions) / watch.seconds
                rates.append(rate)
                print("routing: \(n) executors, \(r.decisions) decisions in \(Report.figure(watch.seconds)) s = "
                      + "\(Report.figure(rate.rounded())) decisions/s "
                      + "(local \(r.local), peer \(r.peer), cloud \(r.cloud), rejected \(r.rejected))")
            }
            print("routing: decisions/s at 100000 ÷ at 10000 = \(Report.figure(rates[1] / rates[0]))")
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

    /// The M/M/8 queue here and in SimPy, side by side: the speed ratio of one run.
    private func simpy() throws {
        let path = "Scenarios/bench/mm8.yaml"
        let model: Scenario
        do { model = try Scenario.load(path: path) } catch let e as ScenarioError { throw CLIFailure(e.description) }
        guard model.pools.count == 1, model.workloads.count == 1, case .poisson(let rate) = model.workloads[0].arrivals
        else { throw CLIFailure("\(path): expected one pool and one Poisson workload") }
        let servers = model.pools[0].count
        let mean = model.agents[0].runtime.mean
        struct Peer: Decodable { var served: Int, mean_wait: Double, wall_seconds: Double, simpy: String }
        // Rounds of both, interleaved, so that a machine whose speed wanders lands both in
        // both of its phases; the best round of each is compared.
        var ours: [Double] = [], theirs: [Double] = []
        var served = 0, wait = Double.nan
        var peer: Peer?
        for round in 0..<rounds {
            let watch = Stopwatch()
            var result: (Report, events: Int, decisions: Int, series: [RunSeries])?
            watch.measure { result = SimulationRunner.run(model, replications: 1, parallelism: 1) }
            ours.append(watch.seconds)
            let report = result!.0
            served = Int(report[SimMetrics.completed.name]?.interval.mean ?? 0)
            wait = report[SimMetrics.waitMean.name]?.interval.mean ?? .nan

            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            child.arguments = ["python3", "deploy/bench/mm8_simpy.py", "--servers", "\(servers)", "--rate", "\(rate)",
                               "--mean", "\(mean)", "--duration", "\(model.duration.seconds)", "--seed", "\(model.seed)"]
            let pipe = Pipe()
            child.standardOutput = pipe
            try child.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            child.waitUntilExit()
            guard child.terminationStatus == 0, let p = try? JSONDecoder().decode(Peer.self, from: output) else {
                throw CLIFailure("bench simpy: deploy/bench/mm8_simpy.py failed (status \(child.terminationStatus)); "
                                 + "deploy/local/install-deps.sh --bench installs SimPy")
            }
            peer = p
            theirs.append(p.wall_seconds)
            print("simpy: round \(round + 1) of \(rounds): honeycomb \(Report.figure(ours[round])) s, "
                  + "SimPy \(Report.figure(p.wall_seconds)) s (\(Report.figure(p.wall_seconds / ours[round]))×)")
        }
        let theory = QueueingTheory.erlangCWait(c: servers, lambda: rate, mu: 1 / mean)
        let best = ours.min()!, peerBest = theirs.min()!
        print("simpy: M/M/\(servers), ρ = \(Report.figure(rate * mean / Double(servers))), "
              + "\(Int(model.duration.seconds)) simulated s; Erlang C mean wait \(Report.figure(theory)) s")
        print("simpy: honeycomb \(served) tasks in \(Report.figure(best)) s (mean wait \(Report.figure(wait)) s); "
              + "SimPy \(peer!.simpy) \(peer!.served) customers in \(Report.figure(peerBest)) s "
              + "(mean wait \(Report.figure(peer!.mean_wait)) s); best of \(rounds) rounds each")
        print("simpy: honeycomb is \(Report.figure(peerBest / best))× SimPy's speed")
    }

    /// One size of `scale`, in this process: prints one `scale-point` line for the parent.
    private func scalePoint() throws {
        let base: Scenario
        do { base = try Scenario.load(path: scenario) } catch let e as ScenarioError { throw CLIFailure(e.description) }
        var scaled = base.scaled(toExecutors: executors)
        scaled.duration = .seconds(seconds)
        scaled.warmup = .zero
        let watch = Stopwatch()
        var result: (Report, events: Int, decisions: Int, series: [RunSeries])?
        watch.measure { result = SimulationRunner.run(scaled, replications: 1, parallelism: 1) }
        let count = scaled.pools.reduce(0) { $0 + $1.count }
        print("scale-point executors=\(count) events=\(result!.events) decisions=\(result!.decisions) "
              + "wall=\(watch.seconds) peak=\(peakResidentBytes())")
    }

    /// `scale`: each size in a child process of this binary, then the table and its ratios.
    private func scale() throws {
        let counts = sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--sizes: expected executor counts, got '\(sizes)'") }
        let base: Scenario
        do { base = try Scenario.load(path: scenario) } catch let e as ScenarioError { throw CLIFailure(e.description) }
        let baseCount = base.pools.reduce(0) { $0 + $1.count }
        guard rounds >= 1 else { throw ValidationError("--rounds: expected at least 1, got \(rounds)") }
        struct Point { var executors: Int, seconds: Double, events: Int, decisions: Int, wall: Double, peak: Int }
        func measure(_ n: Int) throws -> Point {
            let seconds = max(minSeconds, base.duration.seconds * Double(baseCount) / Double(n)).rounded()
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe")
            child.arguments = ["bench", "scale-point", "--scenario", scenario, "--executors", "\(n)", "--seconds", "\(seconds)"]
            let pipe = Pipe()
            child.standardOutput = pipe
            try child.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            child.waitUntilExit()
            guard child.terminationStatus == 0,
                  let line = output.split(separator: "\n").last(where: { $0.hasPrefix("scale-point ") }) else {
                throw CLIFailure("bench scale: the run at \(n) executors failed (status \(child.terminationStatus))")
            }
            var fields: [String: String] = [:]
            for part in line.split(separator: " ").dropFirst() {
                let kv = part.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            guard let e = fields["executors"].flatMap(Int.init), let ev = fields["events"].flatMap(Int.init),
                  let d = fields["decisions"].flatMap(Int.init), let w = fields["wall"].flatMap(Double.init),
                  let p = fields["peak"].flatMap(Int.init) else { throw CLIFailure("bench scale: cannot read '\(line)'") }
            print("scale: \(e) executors, \(Int(seconds)) simulated s: \(ev) events in \(Report.figure(w)) s = "
                  + "\(Report.figure((Double(ev) / w).rounded())) events/s, \(Report.figure((Double(d) / w).rounded())) decisions/s, "
                  + "peak \(Report.figure((Double(p) / 1_048_576).rounded())) MiB")
            return Point(executors: e, seconds: seconds, events: ev, decisions: d, wall: w, peak: p)
        }
        // Rounds over all sizes, interleaved, so that a machine whose speed wanders (this VM
        // has a fast and a slow phase) lands every size in both; each size's best round is
        // the one the table reports, its rounds' spread beside it.
        var runs = [[Point]](repeating: [], count: counts.count)
        for round in 0..<rounds {
            if rounds > 1 { print("scale: round \(round + 1) of \(rounds)") }
            for (k, n) in counts.enumerated() where round == 0 || runs[k][0].wall <= 30 { runs[k].append(try measure(n)) }
        }
        let points = runs.map { r in r.min { $0.wall < $1.wall }! }
        let first = points[0]
        let firstRate = Double(first.events) / first.wall
        print("")
        print("| executors | simulated | events | events/s (best round) | rounds' events/s | decisions/s | peak memory | events/s ÷ at \(first.executors) | peak ÷ at \(first.executors) |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (p, r) in zip(points, runs) {
            let rate = Double(p.events) / p.wall
            let spread = r.count > 1 ? r.map { Report.figure((Double($0.events) / $0.wall / 1e6)) }.joined(separator: ", ") + " M" : "one run"
            print("| \(p.executors) | \(Int(p.seconds)) s | \(p.events) | \(Report.figure(rate.rounded())) | \(spread) | "
                  + "\(Report.figure((Double(p.decisions) / p.wall).rounded())) | \(Report.figure((Double(p.peak) / 1_048_576).rounded())) MiB | "
                  + "\(Report.figure(rate / firstRate)) | \(Report.figure(Double(p.peak) / Double(first.peak))) |")
        }
        if points.count > 1 {
            let last = points[points.count - 1]
            let extra = Double(last.peak - first.peak) / Double(max(1, last.executors - first.executors))
            print("\nmemory per executor (peak growth ÷ executors added): \(Report.figure(extra.rounded())) bytes")
        }
    }

    /// The event queue alone, on the hold model, at 10⁴ and 10⁶ pending events: the 4-ary
    /// heap the simulator uses, a ladder queue and the binary heap before it, in one run.
    private func engine() {
        for pending in [10_000, 1_000_000] {
            var rates: [Double] = []
            for (name, hold) in [("4-ary heap", EngineBenchmark.hold), ("ladder queue", EngineBenchmark.holdLadder),
                                ("binary heap", EngineBenchmark.holdBinary)] {
                let watch = Stopwatch()
                var checksum: Int64 = 0
                watch.measure { checksum = hold(pending, events, 1) }
                let rate = Double(events) / watch.seconds
                rates.append(rate)
                print("engine, \(name), \(pending) pending: \(events) events in \(Report.figure(watch.seconds)) s = "
                      + "\(Report.figure(rate.rounded())) events/s (checksum \(checksum))")
            }
            print("engine, \(pending) pending: ladder / 4-ary = \(Report.figure(rates[1] / rates[0])), "
                  + "4-ary / binary = \(Report.figure(rates[0] / rates[2]))")
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
        for (name, p, hostnames) in [("adaptive", policy, false),
                                     ("adaptive, every executor with a hostname label", policy, true),
                                     ("exact", SchedulerPolicy(binpack: 0.3, leastLoaded: 1, candidates: .all), false),
                                     ("powerOfTwo", SchedulerPolicy(binpack: 0.3, leastLoaded: 1, candidates: .powerOfTwo), false),
                                     ("adaptive with reliability (sampled)",
                                      SchedulerPolicy(binpack: 0.3, leastLoaded: 1, reliability: 1, candidates: .adaptive), false)] {
            var rates: [Double] = []
            for n in [10_000, 100_000] {
                let half = PlacementBenchmark.halfLoaded(executors: n, steps: 200_000, policy: p, hostnames: hostnames,
                                                         measure: watch.measure)
                let rate = Double(half.decisions) / watch.seconds
                rates.append(rate)
                print("placement, half-loaded, \(name), \(n) executors: \(half.decisions) decisions in "
                      + "\(Report.figure(watch.seconds)) s = \(Report.figure(rate.rounded())) decisions/s")
            }
            print("placement, half-loaded, \(name): decisions/s at 100000 ÷ at 10000 = \(Report.figure(rates[1] / rates[0]))")
        }
        // Preemption searches the executors that hold lower-priority work: all of them for
        // `all`, a sample of 128 for `adaptive`.
        for (name, candidates, steps) in [("adaptive", SchedulerPolicy.Candidates.adaptive, 20_000), ("exact", .all, 100)] {
            let p = SchedulerPolicy(binpack: 0.3, leastLoaded: 1, candidates: candidates, preemption: true)
            var rates: [Double] = []
            for n in [10_000, 100_000] {
                let run = PlacementBenchmark.preempting(executors: n, steps: steps, policy: p, measure: watch.measure)
                let rate = Double(run.decisions) / watch.seconds
                rates.append(rate)
                print("placement, preempting, \(name), \(n) executors: \(run.decisions) preemptions in "
                      + "\(Report.figure(watch.seconds)) s = \(Report.figure(rate.rounded())) preemptions/s")
            }
            print("placement, preempting, \(name): preemptions/s at 100000 ÷ at 10000 = \(Report.figure(rates[1] / rates[0]))")
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
