import Foundation
import HoneycombSim
import Testing

@Suite struct ScenarioLoadingTests {
    static let valid = """
    name: t
    duration: 1h
    executors:
      - pool: p
        count: 2
        resources: {cpu: 2, memory: 4GiB, slots: 2}
    agents:
      - name: a
        runtime: 30s
    workload:
      - agent: a
        arrivals: {poisson: {rate: 1/s}}
    """

    /// Parses `text` expecting a refusal; returns the error.
    static func refusal(_ text: String, overrides: [ScenarioOverride] = []) throws -> ScenarioError {
        do {
            _ = try Scenario.parse(text, file: "bad.yaml", overrides: overrides)
        } catch let e as ScenarioError {
            return e
        }
        Issue.record("the scenario was accepted")
        throw CancellationError()
    }

    @Test func aValidScenarioLoadsWithItsDefaults() throws {
        let s = try Scenario.parse(Self.valid)
        #expect(s.replications == 1 && s.seed == 1)
        #expect(s.pools[0].resources.memoryBytes == 4 << 30)
        #expect(s.policy.plane.heartbeatTimeout.seconds == 30)
    }

    @Test func anUnknownKeyIsRefusedWithItsPlaceAndASuggestion() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "    count: 2", with: "    cuont: 2"))
        #expect(e.line == 5 && e.column == 5)
        #expect(e.path == "executors[0].cuont")
        #expect(e.message.contains("did you mean 'count'?"))
        #expect(e.description.hasPrefix("bad.yaml:5:5: executors[0].cuont: unknown key"))
    }

    @Test func aDurationWithoutAUnitIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "runtime: 30s", with: "runtime: 30"))
        #expect(e.path == "agents[0].runtime")
        #expect(e.line == 9)
        #expect(e.message.contains("expected a duration with a unit"))
    }

    @Test func aMissingRequiredKeyIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "duration: 1h\n", with: ""))
        #expect(e.message == "missing required key 'duration'")
        #expect(e.line == 1)
    }

    @Test func aWorkloadOfAnUnknownAgentIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "agent: a", with: "agent: b"))
        #expect(e.path == "workload[0].agent")
        #expect(e.message.contains("no agent named 'b'; agents are: a"))
    }

    @Test func anUnknownDistributionIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "runtime: 30s", with: "runtime: {expo: {mean: 3s}}"))
        #expect(e.path == "agents[0].runtime.expo")
        #expect(e.message.contains("did you mean 'exponential'?"))
    }

    @Test func aBadRateIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "rate: 1/s", with: "rate: 1 per second"))
        #expect(e.path == "workload[0].arrivals.poisson.rate")
        #expect(e.message.contains("expected a rate such as 5/s"))
    }

    @Test func aYAMLSyntaxErrorIsRefusedWithItsLine() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "{cpu: 2, memory: 4GiB, slots: 2}",
                                                                 with: "{cpu: 2, memory: 4GiB, slots: 2"))
        #expect(e.message.hasPrefix("YAML syntax:"))
        #expect(e.line >= 6)
    }

    @Test func aDuplicateKeyIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "duration: 1h", with: "duration: 1h\nduration: 2h"))
        #expect(e.message.contains("appears twice"))
    }

    @Test func outOfRangeNumbersAreRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "count: 2", with: "count: -3"))
        #expect(e.path == "executors[0].count")
        #expect(e.message.contains("expected a whole number in 0"))
        let f = try Self.refusal(Self.valid + "\n    failure: 1.5".replacingOccurrences(of: "x", with: ""))
        #expect(!f.message.isEmpty)
    }

    @Test func aWarmupLongerThanTheRunIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "duration: 1h", with: "duration: 1h\nwarmup: 2h"))
        #expect(e.path == "warmup")
        #expect(e.message.contains("shorter than the duration"))
    }

    @Test func anEventNamingAnUnknownPoolIsRefused() throws {
        let e = try Self.refusal(Self.valid + "\nevents:\n  - at: 10m\n    crash: {pool: q, fraction: 0.5}\n")
        #expect(e.path == "events[0].crash.pool")
        #expect(e.message.contains("no executor pool named 'q'"))
    }

    @Test func aMissingFileIsRefusedPlainly() throws {
        #expect(throws: ScenarioError.self) { try Scenario.load(path: "/nonexistent/x.yaml") }
    }

    @Test func everyShippedScenarioLoads() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Scenarios").standardized.path
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 3)
        for f in files { _ = try Scenario.load(path: "\(folder)/\(f)") }
    }
}

/// Inputs that would crash, hang or silently misbehave are refused before anything runs.
@Suite struct ScenarioLimitTests {
    static let valid = ScenarioLoadingTests.valid

    static func refusal(_ text: String) throws -> ScenarioError { try ScenarioLoadingTests.refusal(text) }

    @Test func absurdSizesAndRatesAreRefused() throws {
        #expect(try Self.refusal(Self.valid.replacingOccurrences(of: "memory: 4GiB", with: "memory: 1e30GiB"))
            .message.contains("at most 1PiB"))
        #expect(try Self.refusal(Self.valid.replacingOccurrences(of: "cpu: 2", with: "cpu: 1e20"))
            .message.contains("at most 1000000 cores"))
        #expect(try Self.refusal(Self.valid.replacingOccurrences(of: "rate: 1/s", with: "rate: 1e11/s"))
            .message.contains("at most 1000000/s"))
        #expect(try Self.refusal(Self.valid.replacingOccurrences(of: "duration: 1h", with: "duration: 1e300d"))
            .path == "duration")
    }

    @Test func tooManyTasksForOneReplicationAreRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(of: "duration: 1h", with: "duration: 40d")
            .replacingOccurrences(of: "rate: 1/s", with: "rate: 1000/s"))
        #expect(e.message.contains("at most 2,000,000,000 tasks"))
    }

    @Test func churnThatNeverMovesTheClockIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(
            of: "slots: 2}", with: "slots: 2}\n    churn: {uptime: 0s, downtime: {uniform: {min: 0s, max: 0s}}}"))
        #expect(e.path == "executors[0].churn.uptime")
        #expect(e.message.contains("mean above 0s"))
    }

    @Test func burstsWithoutAFiniteMeanSpacingAreRefusedWithoutAbortingGSL() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(
            of: "{poisson: {rate: 1/s}}", with: "{bursts: {every: {weibull: {shape: 0.001, scale: 1m}}, size: 3}}"))
        #expect(e.path == "workload[0].arrivals.bursts.every")
        #expect(e.message.contains("finite mean"))
    }

    @Test func anAgentNoPoolCanRunIsRefused() throws {
        let e = try Self.refusal(Self.valid.replacingOccurrences(
            of: "runtime: 30s", with: "runtime: 30s\n    requires: {cpu: 4}"))
        #expect(e.path == "agents[0].requires")
        #expect(e.message.contains("no executor pool can run agent 'a'"))
        let f = try Self.refusal(Self.valid.replacingOccurrences(
            of: "runtime: 30s", with: "runtime: 30s\n    requires: {labels: {gpu: h100}}"))
        #expect(f.message.contains("labels {gpu: h100}"))
    }

    @Test func twoWorkloadsOfOneAgentNeedNames() throws {
        let twice = Self.valid + "\n  - agent: a\n    arrivals: {constant: {rate: 2/s}}\n"
        let e = try Self.refusal(twice)
        #expect(e.path == "workload[1]")
        #expect(e.message.contains("give each a distinct 'name'"))
        let named = twice.replacingOccurrences(of: "  - agent: a\n    arrivals: {constant", with: "  - name: fast\n    agent: a\n    arrivals: {constant")
            + "events:\n  - at: 10m\n    rate: {workload: fast, scale: 3}\n"
        let s = try Scenario.parse(named)
        #expect(s.workloads.map(\.name) == ["a", "fast"])
    }

    @Test func aRateScaleBeyondAThousandIsRefused() throws {
        let e = try Self.refusal(Self.valid + "\nevents:\n  - at: 10m\n    rate: {workload: a, scale: 5000}\n")
        #expect(e.path == "events[0].rate.scale")
    }
}

@Suite struct ScenarioOverrideTests {
    static let valid = ScenarioLoadingTests.valid

    @Test func overridesChangeExistingAndNewFields() throws {
        let s = try Scenario.parse(Self.valid, overrides: [
            ScenarioOverride("executors[0].count=7")!,
            ScenarioOverride("policy.scheduler.score.binpack=2")!,
            ScenarioOverride("policy.lease=2m")!,
            ScenarioOverride("agents[0].runtime={exponential: {mean: 10s}}")!,
        ])
        #expect(s.pools[0].count == 7)
        #expect(s.policy.plane.scheduler.binpack == 2)
        #expect(s.policy.plane.lease == .seconds(120.0))
        #expect(s.agents[0].runtime == .exponential(mean: 10))
        #expect(s.fingerprint != (try Scenario.parse(Self.valid)).fingerprint)
    }

    @Test func aBadOverrideIsRefusedNamingIt() throws {
        let e = try ScenarioLoadingTests.refusal(Self.valid, overrides: [ScenarioOverride("executors[3].count=7")!])
        #expect(e.message.contains("in --set executors[3].count=7: there is no item [3]"))
        let f = try ScenarioLoadingTests.refusal(Self.valid, overrides: [ScenarioOverride("policy.scheduler.candidates=sometimes")!])
        #expect(f.path == "policy.scheduler.candidates")
        #expect(f.line == 0)
    }
}
