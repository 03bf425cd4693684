import HoneycombCore
import HoneycombReport
import HoneycombSim
import Testing

@Suite struct DeterminismTests {
    static let churny = """
    name: churny
    seed: 5
    replications: 3
    duration: 2h
    warmup: 10m
    executors:
      - pool: edge
        count: 80
        labels: {arch: arm64}
        resources: {cpu: 4, memory: 8GiB, slots: 2}
        churn: {uptime: {weibull: {shape: 0.8, scale: 30m}}, downtime: {lognormal: {median: 5m, sigma: 1}}, crash: 0.4}
      - pool: core
        count: 10
        resources: {cpu: 16, memory: 64GiB, slots: 8}
    agents:
      - name: a
        requires: {cpu: 1, memory: 1GiB, labels: {arch: arm64}}
        runtime: {lognormal: {median: 40s, sigma: 1}}
        failure: 0.05
        maxAttempts: 2
      - name: b
        requires: {cpu: 2}
        runtime: {pareto: {shape: 2.2, minimum: 10s}}
    workload:
      - agent: a
        arrivals: {poisson: {rate: 1.5/s}}
      - agent: b
        arrivals: {bursts: {every: {exponential: {mean: 5m}}, size: 60, over: 20s}}
    events:
      - at: 30m
        partition: {pool: edge, fraction: 0.3, for: 2m}
      - at: 50m
        crash: {pool: edge, count: 10}
      - at: 1h
        rate: {workload: a, scale: 2}
      - at: 70m
        add: {pool: core, count: 5}
      - at: 90m
        remove: {pool: core, fraction: 0.5}
    policy:
      heartbeat: {interval: 5s, timeout: 20s}
    network:
      dispatch: {lognormal: {median: 3ms, sigma: 0.5}}
      report: {uniform: {min: 1ms, max: 5ms}}
    """

    static func reportText(seed: UInt64? = nil, parallelism: Int = 2) throws -> String {
        SimulationRunner.run(try Scenario.parse(churny), seed: seed, parallelism: parallelism).0.json().canonicalText()
    }

    @Test func theSameScenarioAndSeedGiveByteIdenticalReports() throws {
        let first = try Self.reportText()
        #expect(first == (try Self.reportText()))
        // Running replications one at a time or side by side changes nothing.
        #expect(first == (try Self.reportText(parallelism: 1)))
    }

    @Test func aDifferentSeedGivesDifferentNumbers() throws {
        #expect(try Self.reportText(seed: 6) != (try Self.reportText()))
    }

    @Test func everySubmittedTaskIsAccountedFor() throws {
        let report = SimulationRunner.run(try Scenario.parse(Self.churny), parallelism: 2).0
        func values(_ name: String) -> [Double] { report[name]!.values }
        let submitted = values("task.submitted")
        for r in submitted.indices {
            let accounted = ["task.completed", "task.failed", "task.lost", "task.unscheduled_at_end",
                             "task.running_at_end"].reduce(0.0) { $0 + values($1)[r] }
            #expect(accounted == submitted[r], "replication \(r): \(accounted) of \(submitted[r]) accounted for")
        }
        // The faults did happen: executors were lost and work was retried.
        #expect(values("executor.declared_lost").allSatisfy { $0 > 0 })
        #expect(values("task.retried").allSatisfy { $0 > 0 })
    }
}

@Suite struct ReplicationControlTests {
    static let quick = """
    name: quick
    seed: 3
    replications: 2
    duration: 2h
    warmup: 20m
    executors:
      - pool: p
        count: 10
        resources: {cpu: 4, slots: 4}
    agents:
      - {name: a, requires: {cpu: 1}, runtime: {exponential: {mean: 60s}}}
    workload:
      - {agent: a, arrivals: {poisson: {rate: 0.4/s}}}
    """

    @Test func precisionAddsReplicationsUntilTheTargetIsMet() throws {
        // Busy enough (90 %) that waits are not all zero.
        let s = try Scenario.parse(Self.quick.replacingOccurrences(of: "rate: 0.4/s", with: "rate: 0.6/s"))
        let loose = SimulationRunner.run(s, parallelism: 2, precision: (0.5, 60)).0
        let tight = SimulationRunner.run(s, parallelism: 2, precision: (0.25, 60)).0
        #expect(loose.run.precision?.met == true && tight.run.precision?.met == true)
        #expect(tight.run.replicationSeeds.count > loose.run.replicationSeeds.count)
        for m in ["task.wait.mean", "task.turnaround.mean", "executor.utilization.mean"] {
            let i = try #require(tight[m]).interval
            #expect(i.halfWidth <= 0.25 * abs(i.mean), "\(m): \(i.mean) ± \(i.halfWidth)")
        }
        // The same target on the same seeds gives the same report, and it says what it did.
        let again = SimulationRunner.run(s, parallelism: 1, precision: (0.25, 60)).0
        #expect(again.json().canonicalText() == tight.json().canonicalText())
        #expect(tight.markdown().contains("Replications were added until every headline metric's half-width was within 25 %"))
        let capped = SimulationRunner.run(s, parallelism: 2, precision: (0.0001, 4)).0
        #expect(capped.run.precision?.met == false && capped.run.replicationSeeds.count == 4)
        #expect(capped.markdown().contains("**not met** by the cap of 4 replications"))
        #expect(try Report(json: capped.json()).json().canonicalText() == capped.json().canonicalText())
    }

    @Test func mser5FindsTheEndOfAnInitialTransient() {
        var series = RunSeries()
        // 100 samples: a ramp over the first 30, then steady with small noise.
        for i in 0..<100 {
            series.times.append(Double(i + 1) * 60)
            series.utilization.append(i < 30 ? Double(i) / 60 : 0.5 + (i % 2 == 0 ? 0.01 : -0.01))
            series.queued.append(0)
            series.online.append(10)
        }
        let w = Warmup.mser5(series, sampleEvery: .seconds(60.0), duration: .hours(2))
        #expect(w >= .seconds(25 * 60.0) && w <= .seconds(35 * 60.0), "warm-up \(w)")
    }

    @Test func anAutomaticWarmupIsChosenAndReported() throws {
        let s = try Scenario.parse(Self.quick.replacingOccurrences(of: "warmup: 20m", with: "warmup: auto"))
        #expect(s.autoWarmup)
        let r = SimulationRunner.run(s, parallelism: 2).0
        #expect(r.run.warmupNote?.contains("chosen by MSER-5") == true)
        #expect(r.run.warmupSeconds <= 3600)
    }
}
