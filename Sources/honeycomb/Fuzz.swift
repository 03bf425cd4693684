import ArgumentParser
import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombSim

struct FuzzCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz",
        abstract: "Deterministic simulation testing: the real core and live driver under simulated faults.",
        discussion: """
        Each seed draws its own fleet, load, policy, LLM limits and fault rates (commits that fail, lose \
        their reply or are slow, publishes refused, dispatches delayed and duplicated, heartbeats lost, \
        presence flushed, the bundle store away, executors crashed and cut off, the active scheduler dying \
        and a standby taking over), runs `LivePlane` on in-memory I/O and a virtual clock, and checks \
        invariants after every step (no task lost, one attempt at a time, capacity, store and plane agree, \
        audited once, an ended task stays ended, idempotent keyed submissions retried by their clients, \
        budgets, rate limits, private calls, presence, liveness). A seed that makes no progress for --stall-limit \
        seconds of real time (a call never answered) is reported as a violation too. A violation prints the seed, \
        the invariant, the events before it, and the command that replays it. Exit status: 0 when nothing was \
        found, 1 otherwise.
        """)

    @Option(help: "Seeds to run.") var seeds = 100
    @Option(help: "The first seed (the others follow it).") var seed: UInt64 = 1
    @Option(name: .customLong("time-limit"), help: "Start no seed after this many seconds.") var timeLimit: Double?
    @Option(help: "Seeds run side by side.") var jobs = 2
    @Option(help: "Rerun every Nth seed and compare event logs (0: never).") var recheck = 10
    @Option(help: "Plant a bug the fuzzer must find: \(PlaneConfig.PlantedBug.allCases.map(\.rawValue).joined(separator: ", ")).")
    var plant: String?
    @Flag(help: "Print every event of the run (with one seed).") var log = false
    @Option(name: .customLong("stall-limit"), help: "Report a seed whose steps stand still this many seconds of real time.")
    var stallLimit = 60

    func validate() throws {
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard recheck >= 0 else { throw ValidationError("--recheck must be 0 or more") }
        guard stallLimit >= 1 else { throw ValidationError("--stall-limit must be at least 1 second") }
        if let plant, PlaneConfig.PlantedBug(rawValue: plant) == nil {
            throw ValidationError("--plant: no bug named \(plant); the bugs are \(PlaneConfig.PlantedBug.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if log && seeds != 1 { throw ValidationError("--log prints one seed's run: give --seeds 1") }
    }

    func run() async throws {
        let planted = plant.flatMap(PlaneConfig.PlantedBug.init(rawValue:))
        let list = (0..<UInt64(seeds)).map { seed &+ $0 }
        let started = Date()
        let limit = timeLimit
        let stall = stallLimit
        // Each seed under a watchdog (real time, here in the command: the fuzzer itself reads no clock).
        let guarded: @Sendable (UInt64, (@Sendable (String) -> Void)?) async -> Result<FuzzOutcome, FuzzViolation> = { seed, every in
            let trail = FuzzTrail()
            return await Watchdog.guarded(stallLimit: .seconds(stall), progress: { trail.steps },
                                          stalled: { .failure(Fuzzer.stalled(seed: seed, trail: trail, seconds: stall)) },
                                          work: { await Fuzzer.run(seed: seed, plant: planted, trail: trail, everyEvent: every) })
        }
        let campaign: Fuzzer.Campaign
        if log {
            let result = await guarded(seed, { print($0) })
            var c = Fuzzer.Campaign()
            switch result {
            case .success(let o): c.outcomes = [o]
            case .failure(let v): c.violations = [v]
            }
            campaign = c
        } else {
            campaign = await Fuzzer.campaign(seeds: list, jobs: jobs, plant: planted, recheckEvery: recheck,
                                             keepGoing: { limit.map { Date().timeIntervalSince(started) < $0 } ?? true },
                                             runner: { await guarded($0, nil) })
        }
        let seconds = Date().timeIntervalSince(started)
        let replayPlant = plant.map { " --plant \($0)" } ?? ""
        for v in campaign.violations {
            print("VIOLATION \(v)")
            print("replay: honeycomb fuzz --seed \(v.seed) --seeds 1\(replayPlant) --log\n")
        }
        for s in campaign.nondeterministic {
            print("NONDETERMINISTIC seed \(s): two runs gave different event logs; replay: honeycomb fuzz --seed \(s) --seeds 1 --log")
        }
        if seeds == 1, let o = campaign.outcomes.first {
            print("seed \(o.seed): no violation; \(o.events) events, \(o.tasks) tasks, \(o.faults) faults, event log \(String(o.eventHash, radix: 16))")
        }
        let run = campaign.outcomes.count + campaign.violations.count
        let events = campaign.outcomes.reduce(0) { $0 + $1.events }, faults = campaign.outcomes.reduce(0) { $0 + $1.faults }
        print("fuzz: \(run) seeds from \(seed), \(campaign.violations.count) violations, \(campaign.nondeterministic.count) "
              + "nondeterministic of \(campaign.rechecked) rerun; \(events) events, \(faults) faults"
              + (campaign.skipped > 0 ? "; \(campaign.skipped) seeds not started (time limit)" : ""))
        // Wall-clock figures go to stderr, so that the same seeds print the same on stdout.
        FileHandle.standardError.write(Data(String(format: "fuzz: %.1f s, %.1f seeds/s (jobs %d)\n", seconds,
                                                   Double(run) / max(seconds, 1e-9), jobs).utf8))
        if !campaign.violations.isEmpty || !campaign.nondeterministic.isEmpty { throw ExitCode(1) }
    }
}
