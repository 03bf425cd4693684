import HoneycombReport
import Testing

@Suite struct CanonicalJSONTests {
    @Test func keysAreSortedAndNumbersCanonical() {
        let v = JSONValue.object(["b": .number(1), "a": .array([.number(0.5), .number(2), .number(.nan)]),
                                  "c": .string("q\"\n")])
        #expect(v.canonicalText() == """
        {
          "a": [0.5, 2, null],
          "b": 1,
          "c": "q\\"\\n"
        }

        """)
    }

    @Test func equalValuesGiveEqualBytesWhateverTheInsertionOrder() {
        var x: [String: JSONValue] = [:]
        var y: [String: JSONValue] = [:]
        for k in ["z", "m", "a", "task.wait.p99", "task.wait.mean"] { x[k] = .number(1) }
        for k in ["task.wait.mean", "a", "task.wait.p99", "m", "z"] { y[k] = .number(1) }
        #expect(JSONValue.object(x).canonicalText() == JSONValue.object(y).canonicalText())
    }
}

@Suite struct ReportTests {
    let report = Report(
        run: RunDescription(scenario: "demo", scenarioFingerprint: "abc", seed: 1, replicationSeeds: [10, 11, 12],
                            durationSeconds: 3600, warmupSeconds: 600),
        metrics: [
            MetricResult(MetricDefinition("task.wait.p99", unit: "s", .lowerIsBetter), values: [1, 2, 3]),
            MetricResult(MetricDefinition("executor.utilization.mean", unit: "ratio", .higherIsBetter),
                         values: [0.5, 0.6, 0.7]),
        ])

    @Test func metricsAreSortedAndCarryUnitDirectionValuesAndInterval() {
        #expect(report.metrics.map(\.definition.name) == ["executor.utilization.mean", "task.wait.p99"])
        let text = report.json().canonicalText()
        #expect(text.contains("\"values\": [1, 2, 3]"))
        #expect(text.contains("\"direction\": \"lower\""))
        #expect(text.contains("\"halfWidth\": 2.484"))
        #expect(text.contains("\"replicationSeeds\": [\n"))
    }

    @Test func markdownShowsOneRowPerMetric() {
        let md = report.markdown()
        #expect(md.contains("| `task.wait.p99` | s | 2 | 2.484 | 1 | 3 | lower |"))
        #expect(md.contains("3 replications of 1h each, warm-up 10m"))
    }
}
