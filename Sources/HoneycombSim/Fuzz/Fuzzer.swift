import HoneycombCore

/// `honeycomb fuzz`: many seeds of `FuzzRun`, side by side, each replayable alone.
public enum Fuzzer {
    /// Runs one seed: its outcome, or the first invariant it broke.
    public static func run(seed: UInt64, plant: PlaneConfig.PlantedBug? = nil, trail: FuzzTrail = FuzzTrail(),
                           everyEvent: (@Sendable (String) -> Void)? = nil) async -> Result<FuzzOutcome, FuzzViolation> {
        let run = FuzzRun(seed: seed, plant: plant, trail: trail)
        run.everyEvent = everyEvent
        do {
            return .success(try await run.run())
        } catch let v as FuzzViolation {
            return .failure(v)
        } catch {
            return .failure(FuzzViolation(seed: seed, invariant: "no crash", detail: "\(error)", at: run.clock.now(),
                                          recent: trail.recent))
        }
    }

    /// What a campaign found.
    public struct Campaign: Sendable {
        public var outcomes: [FuzzOutcome] = []
        public var violations: [FuzzViolation] = []
        /// Seeds run twice whose event logs differed (the determinism self-check).
        public var nondeterministic: [UInt64] = []
        public var rechecked = 0
        /// Seeds not run because the time limit came first.
        public var skipped = 0
        public init() {}
    }

    /// The violation of a seed that stopped making progress: a command the plane never
    /// answered (or a step that never ends), seen by a watchdog outside the run.
    public static func stalled(seed: UInt64, trail: FuzzTrail, seconds: Int) -> FuzzViolation {
        FuzzViolation(seed: seed, invariant: "every call answered",
                      detail: "no step finished in \(seconds) s of real time (after step \(trail.steps)): a call was never answered",
                      at: trail.now, recent: trail.recent)
    }

    /// Runs `seeds`, `jobs` at a time, rerunning every `recheckEvery`-th to compare its event
    /// hash. `keepGoing` is asked before each seed starts (the caller's time limit). `runner`
    /// runs one seed (the command line's watches it for stalls).
    public static func campaign(seeds: [UInt64], jobs: Int, plant: PlaneConfig.PlantedBug?, recheckEvery: Int,
                                keepGoing: @escaping @Sendable () -> Bool,
                                runner: (@Sendable (UInt64) async -> Result<FuzzOutcome, FuzzViolation>)? = nil) async -> Campaign {
        let run = runner ?? { seed in await Fuzzer.run(seed: seed, plant: plant) }
        var c = Campaign()
        await withTaskGroup(of: (UInt64, Result<FuzzOutcome, FuzzViolation>, Bool).self) { group in
            var next = 0
            func launch() -> Bool {
                guard next < seeds.count else { return false }
                guard keepGoing() else { c.skipped = seeds.count - next; next = seeds.count; return false }
                let seed = seeds[next]
                let recheck = recheckEvery > 0 && next % recheckEvery == 0
                next += 1
                group.addTask {
                    let first = await run(seed)
                    guard recheck else { return (seed, first, true) }
                    let second = await run(seed)
                    let same: Bool
                    switch (first, second) {
                    case (.success(let a), .success(let b)): same = a == b
                    case (.failure(let a), .failure(let b)): same = a.description == b.description
                    default: same = false
                    }
                    return (seed, first, same)
                }
                return true
            }
            for _ in 0..<max(1, jobs) { _ = launch() }
            while let (seed, result, same) = await group.next() {
                switch result {
                case .success(let o): c.outcomes.append(o)
                case .failure(let v): c.violations.append(v)
                }
                if !same { c.nondeterministic.append(seed) }
                _ = launch()
            }
        }
        c.rechecked = recheckEvery > 0 ? (seeds.count - c.skipped + recheckEvery - 1) / recheckEvery : 0
        c.outcomes.sort { $0.seed < $1.seed }
        c.violations.sort { $0.seed < $1.seed }
        c.nondeterministic.sort()
        return c
    }
}
