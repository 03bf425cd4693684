import HoneycombCore
import HoneycombSim
import Testing

/// `honeycomb fuzz`: the real core inside the real live driver, under simulated faults.
@Suite struct FuzzTests {
    @Test func twoHundredSeedsFindNoViolationAndReplayAlike() async {
        let c = await Fuzzer.campaign(seeds: Array(1...200), jobs: 2, plant: nil, recheckEvery: 10, keepGoing: { true })
        #expect(c.violations.isEmpty, "\(c.violations.first.map(\.description) ?? "")")
        #expect(c.nondeterministic.isEmpty && c.rechecked == 20)
        #expect(c.outcomes.count == 200)
        // The seeds did meet faults and work.
        #expect(c.outcomes.reduce(0) { $0 + $1.faults } > 1000 && c.outcomes.reduce(0) { $0 + $1.tasks } > 10_000)
        // Clients did retry keyed submissions, and users did cancel.
        #expect(c.outcomes.reduce(0) { $0 + $1.keyedRetries } > 100 && c.outcomes.reduce(0) { $0 + $1.cancels } > 100)
    }

    @Test func aPlantedStaleReportBugIsFoundAndItsSeedReplaysTheSameViolation() async throws {
        var found: FuzzViolation?
        for seed in UInt64(1)...100 {
            if case .failure(let v) = await Fuzzer.run(seed: seed, plant: .staleReportsAccepted) { found = v; break }
        }
        let v = try #require(found, "the planted bug survived 100 seeds")
        #expect(v.invariant == "one attempt at a time")
        guard case .failure(let again) = await Fuzzer.run(seed: v.seed, plant: .staleReportsAccepted) else {
            Issue.record("seed \(v.seed) did not fail again")
            return
        }
        #expect(again.description == v.description)
        // Without the bug the same seed passes.
        guard case .success = await Fuzzer.run(seed: v.seed) else { Issue.record("seed \(v.seed) fails without the bug"); return }
    }

    @Test func aPlantedRebuildThatForgetsTheLLMLedgerIsFound() async throws {
        var found: FuzzViolation?
        for seed in UInt64(1)...300 {
            if case .failure(let v) = await Fuzzer.run(seed: seed, plant: .rebuildForgetsLLMLedger) { found = v; break }
        }
        let v = try #require(found, "the planted bug survived 300 seeds")
        #expect(["budgets never exceeded", "rate limits never exceeded", "store and plane agree"].contains(v.invariant),
                "\(v.invariant)")
        guard case .success = await Fuzzer.run(seed: v.seed) else { Issue.record("seed \(v.seed) fails without the bug"); return }
    }

    @Test func aPlantedRebuildThatKeepsKeysInFlightIsFoundByRetryingClients() async throws {
        var found: FuzzViolation?
        for seed in UInt64(1)...300 {
            if case .failure(let v) = await Fuzzer.run(seed: seed, plant: .rebuildKeepsKeysInFlight) { found = v; break }
        }
        let v = try #require(found, "the planted bug survived 300 seeds")
        #expect(["no accepted task lost", "idempotent submission"].contains(v.invariant), "\(v.invariant)")
        guard case .success = await Fuzzer.run(seed: v.seed) else { Issue.record("seed \(v.seed) fails without the bug"); return }
    }
}
