import Foundation
import HoneycombReport
import HoneycombSim
import Testing

@Suite struct LLMSimulationTests {
    /// Poisson calls at `lambda`/s to one executor with `c` model slots and no queue;
    /// exponential service with mean 1 s; full means spill to the cloud.
    static func erlang(c: Int, lambda: Double) -> String {
        """
        name: erlang-b
        seed: 77
        replications: 10
        duration: 6h
        warmup: 30m
        models:
          - {name: m, contextWindow: 1000000}
        cloud:
          - provider: c
            models: [m]
            latency: 300ms
            costPerMillionTokens: {input: 1, output: 2}
        executors:
          - pool: box
            count: 1
            resources: {cpu: 1000, slots: 1000}
            llm: {models: [m], slots: \(c), queue: 0, tokensPerSecond: 100}
        agents:
          - name: caller
            runtime: 2s
            llm: {model: m, calls: 1, promptTokens: 0, completionTokens: {exponential: {mean: 100}}, maxCompletionTokens: 100000, slo: 1h}
        workload:
          - agent: caller
            arrivals: {poisson: {rate: \(lambda)/s}}
        network: {dispatch: 0s, report: 0s}
        """
    }

    /// Erlang B: the chance an arrival finds all c servers busy at offered load a.
    static func erlangB(c: Int, a: Double) -> Double {
        var b = 1.0
        for k in 1...c { b = a * b / (Double(k) + a * b) }
        return b
    }

    @Test func theSpillRatioMatchesErlangB() throws {
        let (c, lambda) = (4, 3.0)
        let report = SimulationRunner.run(try Scenario.parse(Self.erlang(c: c, lambda: lambda)), parallelism: 2).0
        let spill = try #require(report["llm.cloud_ratio"])
        let theory = Self.erlangB(c: c, a: lambda * 1.0)
        #expect(abs(theory - 0.2061) < 1e-3)  // B(4, 3), against a table value
        #expect(spill.interval.contains(theory), "spill \(spill.interval) vs Erlang B \(theory)")
        #expect(spill.interval.halfWidth < 0.1 * theory, "interval too wide to test anything")
        #expect(report["llm.local_hit_ratio"]!.interval.mean + spill.interval.mean > 0.999)
    }
}

@Suite struct LocalFirstScenarioTests {
    @Test func localFirstCostsLessThanCloudOnlyOnTheSameSeeds() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scenarios/llm-local-first.yaml").standardized.path
        func run(_ strategy: String) throws -> Report {
            SimulationRunner.run(try Scenario.load(path: path, overrides: [
                ScenarioOverride(path: "policy.router.strategy", value: strategy),
                ScenarioOverride(path: "replications", value: "2"),
                ScenarioOverride(path: "duration", value: "150m"),
            ]), parallelism: 2).0
        }
        let local = try run("local-first"), cloud = try run("cloud-only")
        #expect(local.run.replicationSeeds == cloud.run.replicationSeeds)
        #expect(local["llm.requests"]!.values == cloud["llm.requests"]!.values)  // the same calls
        #expect(local["llm.local_hit_ratio"]!.interval.mean > 0.5)
        #expect(local["llm.cost.usd"]!.interval.mean < 0.5 * cloud["llm.cost.usd"]!.interval.mean)
        #expect(local["llm.cost.saved_vs_cloud_only.usd"]!.values.allSatisfy { $0 > 0 })
        // The outage at 2h sends calls to the dearer cloud, and says so.
        #expect(cloud["llm.route.fallback:provider-down"]!.values.allSatisfy { $0 > 0 })
        // Private calls never go to a cloud: under cloud-only they still run locally.
        #expect(cloud["llm.local_hit_ratio"]!.interval.mean > 0)
    }
}
