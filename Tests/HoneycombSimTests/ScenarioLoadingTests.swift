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
    static func refusal(_ text: String) throws -> ScenarioError {
        do {
            _ = try Scenario.parse(text, file: "bad.yaml")
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
