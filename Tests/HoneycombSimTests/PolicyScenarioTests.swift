import Foundation
import HoneycombReport
import HoneycombSim
import Testing

/// Placement policy features seen through whole simulations.
@Suite struct PolicyScenarioTests {
    static func run(_ text: String, overrides: [String] = []) throws -> Report {
        SimulationRunner.run(try Scenario.parse(text, overrides: overrides.compactMap(ScenarioOverride.init)),
                             parallelism: 2).0
    }

    static let contended = """
    name: contended
    seed: 21
    replications: 3
    duration: 3h
    warmup: 30m
    tenants:
      - {name: light, weight: 1}
      - {name: heavy, weight: 3}
    executors:
      - pool: p
        count: 20
        resources: {cpu: 4, slots: 4}
    agents:
      - name: job
        requires: {cpu: 1}
        runtime: {exponential: {mean: 60s}}
    workload:
      - {name: batch, agent: job, tenant: light, arrivals: {poisson: {rate: 1.5/s}}}
      - {name: urgent, agent: job, tenant: heavy, priority: 10, arrivals: {poisson: {rate: 1/s}}}
    policy:
      scheduler: {preemption: false}
    """

    @Test func priorityAndWeightsDecideWhoWaitsUnderContention() throws {
        // 80 slots, demand 150 busy slots (light 90, heavy 60): heavy (weight 3, higher
        // priority) gets what it asks for; light queues for the rest.
        let r = try Self.run(Self.contended)
        let light = try #require(r["tenant.light.wait.mean"]).interval.mean
        let heavy = try #require(r["tenant.heavy.wait.mean"]).interval.mean
        #expect(heavy < light / 10, "heavy waits \(heavy) s, light \(light) s")
        #expect(try #require(r["tenant.heavy.share"]).interval.mean > 0.6)
        #expect(r["placement.pending_reasons.no-free-slot"]!.interval.mean == 1)
    }

    @Test func preemptionStopsLowPriorityWorkAndReportsItAsWasted() throws {
        let off = try Self.run(Self.contended)
        let on = try Self.run(Self.contended, overrides: ["policy.scheduler.preemption=true"])
        #expect(off["task.preempted"]!.values.allSatisfy { $0 == 0 })
        #expect(on["task.preempted"]!.values.allSatisfy { $0 > 100 })
        #expect(on["work.preempted_seconds"]!.values.allSatisfy { $0 > 0 })
        #expect(on["tenant.heavy.wait.mean"]!.interval.mean < off["tenant.heavy.wait.mean"]!.interval.mean)
        // Nothing is lost to preemption: every task is still accounted for.
        for k in on["task.submitted"]!.values.indices {
            let sum = ["task.completed", "task.failed", "task.lost", "task.unscheduled_at_end", "task.running_at_end"]
                .reduce(0.0) { $0 + on[$1]!.values[k] }
            #expect(sum == on["task.submitted"]!.values[k])
        }
    }

    @Test func crashesAreDetectedWithinTheHeartbeatTimeout() throws {
        let r = try Self.run("""
        name: crashes
        seed: 4
        replications: 2
        duration: 4h
        executors:
          - pool: p
            count: 100
            resources: {cpu: 1, slots: 1}
            churn: {uptime: {exponential: {mean: 30m}}, downtime: {exponential: {mean: 30m}}, crash: 1}
        agents:
          - {name: a, runtime: 1s}
        policy:
          heartbeat: {interval: 10s, timeout: 30s}
        """)
        // Silent for the timeout after the last heartbeat, which came up to one interval
        // before the crash: between 20 s and 30 s (plus the liveness check's own lag).
        let d = try #require(r["executor.loss_detection.mean"]).interval.mean
        #expect(d > 20 && d < 31, "detection \(d) s")
    }

    @Test func aLeaseDelaysReschedulingPastAShortPartition() throws {
        // A 60 s partition outlasts the 30 s timeout: executors are declared lost. Without a
        // lease their tasks are rescheduled and their work so far thrown away; with a
        // 2-minute lease the executors are back, work intact, before the leases run out.
        let text = """
        name: leases
        seed: 6
        replications: 2
        duration: 2h
        executors:
          - pool: p
            count: 50
            resources: {cpu: 4, slots: 2}
        agents:
          - {name: a, requires: {cpu: 1}, runtime: {exponential: {mean: 5m}}}
        workload:
          - {agent: a, arrivals: {poisson: {rate: 0.2/s}}}
        events:
          - at: 1h
            partition: {pool: p, fraction: 1, for: 60s}
        """
        let noLease = try Self.run(text)
        #expect(noLease["task.rescheduled"]!.values.allSatisfy { $0 > 20 })
        #expect(noLease["work.lost_seconds"]!.values.allSatisfy { $0 > 0 })
        let lease = try Self.run(text, overrides: ["policy.lease=2m"])
        #expect(lease["task.rescheduled"]!.values == [0, 0])
        #expect(lease["work.lost_seconds"]!.values == [0, 0])
        #expect(lease["executor.declared_lost"]!.values.allSatisfy { $0 >= 40 })
    }
}

@Suite struct RebalanceScenarioTests {
    @Test func rebalancingOnJoinLetsStarvedBigTasksRun() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scenarios/fragmentation.yaml").standardized.path
        func run(_ moves: Int) throws -> Report {
            SimulationRunner.run(try Scenario.load(path: path, overrides: [
                ScenarioOverride(path: "policy.scheduler.rebalance.maxMoves", value: String(moves)),
                ScenarioOverride(path: "replications", value: "2"),
            ]), parallelism: 2).0
        }
        let off = try run(0), on = try run(8)
        #expect(off["task.moved"]!.values == [0, 0])
        #expect(on["task.moved"]!.values.allSatisfy { $0 > 0 })
        // Without moves big tasks starve (dozens still wait at the end); with them, few do, in
        // each replication (the two runs share their seeds).
        let starved = off["task.unscheduled_at_end"]!.values, left = on["task.unscheduled_at_end"]!.values
        #expect(starved.allSatisfy { $0 > 20 }, "\(starved)")
        #expect(zip(starved, left).allSatisfy { $1 < 20 && $1 * 5 < $0 }, "\(left) against \(starved)")
        #expect(on["work.preempted_seconds"]!.values.allSatisfy { $0 > 0 })
    }
}

@Suite struct MetricNameTests {
    @Test func theDeclaredMetricsAreExactlyTheOnesReported() throws {
        let s = try Scenario.parse(PolicyScenarioTests.contended, overrides: [ScenarioOverride("duration=40m")!])
        let report = SimulationRunner.run(s, replications: 1).0
        #expect(report.metrics.map(\.definition) == SimMetrics.definitions(for: s))
    }
}
