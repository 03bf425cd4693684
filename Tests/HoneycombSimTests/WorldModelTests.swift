import HoneycombReport
import HoneycombSim
import Testing

/// The world model's behaviours that reports rest on: churn, drain, partition, removal.
@Suite struct WorldModelTests {
    static func run(_ text: String) throws -> Report {
        SimulationRunner.run(try Scenario.parse(text), parallelism: 2).0
    }

    @Test func drainingExecutorsLoseNoTaskWhenReportsTakeTime() throws {
        // Only graceful departures, no failures, one attempt each: nothing may end lost or
        // failed. (A `left` that overtook the last task's report would lose that task.)
        let report = try Self.run("""
        name: graceful
        seed: 3
        replications: 2
        duration: 3h
        executors:
          - pool: p
            count: 50
            resources: {cpu: 4, slots: 2}
            churn: {uptime: {exponential: {mean: 20m}}, downtime: {exponential: {mean: 5m}}, crash: 0}
        agents:
          - name: a
            requires: {cpu: 1}
            runtime: {exponential: {mean: 40s}}
            maxAttempts: 1
        workload:
          - agent: a
            arrivals: {poisson: {rate: 1/s}}
        network: {dispatch: 5ms, report: {uniform: {min: 1ms, max: 30ms}}}
        """)
        #expect(report["task.lost"]!.values == [0, 0])
        #expect(report["task.failed"]!.values == [0, 0])
        #expect(report["task.completed"]!.values.allSatisfy { $0 > 9000 })
    }

    @Test func executorsGivenUpDuringAPartitionGoOnChurning() throws {
        // A 2-minute partition of the whole pool outlasts the 30 s heartbeat timeout: every
        // executor is declared lost and registers again. Afterwards the fleet must still
        // churn as before: online 30 / (30 + 10) of the time.
        let report = try Self.run("""
        name: partitioned
        seed: 8
        replications: 4
        duration: 12h
        warmup: 2h
        executors:
          - pool: p
            count: 200
            resources: {cpu: 1, slots: 1}
            churn: {uptime: {exponential: {mean: 30m}}, downtime: {exponential: {mean: 10m}}}
        agents:
          - name: a
            runtime: 1s
        events:
          - at: 1h
            partition: {pool: p, fraction: 1, for: 2m}
        """)
        let online = try #require(report["executor.online.mean"])
        #expect(abs(online.interval.mean - 150) < 4, "online \(online.interval)")
        #expect(report["executor.declared_lost"]!.values.allSatisfy { $0 >= 100 })
    }

    @Test func removingAWholeChurningPoolEmptiesItForGood() throws {
        let report = try Self.run("""
        name: removed
        seed: 4
        duration: 4h
        warmup: 2h
        executors:
          - pool: p
            count: 100
            resources: {cpu: 1, slots: 1}
            churn: {uptime: {exponential: {mean: 20m}}, downtime: {exponential: {mean: 20m}}}
        agents:
          - name: a
            runtime: 1s
        events:
          - at: 1h
            remove: {pool: p, fraction: 1}
        """)
        #expect(report["executor.online.mean"]!.values == [0])
    }

    @Test func aScaledBurstWorkloadKeepsItsMeanRate() throws {
        // Bursts of 5 every 10 s are 0.5/s; `to: 0.05/s` must give 0.05/s, not bursts of 0.
        let report = try Self.run("""
        name: bursts
        seed: 2
        duration: 20h
        warmup: 10h
        executors:
          - pool: p
            count: 10
            resources: {cpu: 1, slots: 4}
        agents:
          - name: a
            runtime: 1s
        workload:
          - agent: a
            arrivals: {bursts: {every: {exponential: {mean: 10s}}, size: 5}}
        events:
          - at: 10h
            rate: {workload: a, to: 0.05/s}
        """)
        let submitted = report["task.submitted"]!.values[0]
        #expect(abs(submitted - 0.05 * 36_000) < 0.1 * 0.05 * 36_000, "\(submitted) tasks in 10 h")
    }
}
