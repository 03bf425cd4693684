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

@Suite struct ReportReadingTests {
    @Test func aReportReadsBackAsItWasWritten() throws {
        let report = Report(
            run: RunDescription(scenario: "demo", scenarioFingerprint: "abc", seed: 18_446_744_073_709_551_615,
                                replicationSeeds: [1, 2], durationSeconds: 60, warmupSeconds: 0),
            metrics: [MetricResult(MetricDefinition("task.wait.mean", unit: "s", .lowerIsBetter), values: [0.5, .nan])])
        let text = report.json().canonicalText()
        let back = try Report(json: JSONValue.parse(text))
        #expect(back.json().canonicalText() == text)
        #expect(back.run.seed == UInt64.max)
    }

    @Test func aReportOfAnotherSchemaIsRefusedPlainly() throws {
        #expect(throws: ReportReadError.self) { try Report(json: JSONValue.parse(#"{"schema": "other/9"}"#)) }
    }
}

@Suite struct SweepTableTests {
    static func point(_ label: String, wait: [Double], util: [Double]) -> SweepPoint {
        SweepPoint(parameters: [("policy", label)], report: Report(
            run: RunDescription(scenario: "s", scenarioFingerprint: "f", seed: 1, replicationSeeds: [1, 2, 3],
                                durationSeconds: 1, warmupSeconds: 0),
            metrics: [MetricResult(MetricDefinition("task.wait.p99", unit: "s", .lowerIsBetter), values: wait),
                      MetricResult(MetricDefinition("executor.utilization.mean", unit: "ratio", .higherIsBetter), values: util)]))
    }

    let table = SweepTable(
        points: [point("a", wait: [10, 10, 10], util: [0.5, 0.5, 0.5]),   // dominated by c
                 point("b", wait: [2, 2, 2], util: [0.4, 0.4, 0.4]),      // best wait
                 point("c", wait: [8, 8, 8], util: [0.9, 0.9, 0.9])],     // best utilization
        metrics: ["task.wait.p99", "executor.utilization.mean"],
        pareto: ["task.wait.p99", "executor.utilization.mean"], objective: "task.wait.p99")

    @Test func theParetoFrontKeepsOnlyUndominatedPoints() {
        #expect(table.paretoFront() == [1, 2])
        #expect(table.best() == 1)
    }

    @Test func theTablesSayWhichPointIsBest() {
        #expect(table.markdown().contains("| 2 | b | 2 ± 0 | 0.4000 ± 0 | **best**, pareto |"))
        #expect(table.csv().split(separator: "\n")[2] == "2,b,2,2,2,0.4,0.4,0.4,1,1")
    }
}

@Suite struct ComparisonTests {
    static func report(_ metrics: [(String, Direction, [Double])], name: String = "s",
                       seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]) -> Report {
        Report(run: RunDescription(scenario: name, scenarioFingerprint: "f", seed: 1, replicationSeeds: seeds,
                                   durationSeconds: 60, warmupSeconds: 0),
               metrics: metrics.map { MetricResult(MetricDefinition($0.0, unit: "s", $0.1), values: $0.2) })
    }

    @Test func aRealRegressionOnTheSameSeedsIsCaught() throws {
        let base = Self.report([("task.wait.p99", .lowerIsBetter, [10, 12, 9, 11, 10, 13, 9, 12])])
        // Every replication a little worse (by distinct amounts, so the exact test applies).
        let new = Self.report([("task.wait.p99", .lowerIsBetter, [11, 13.2, 9.8, 12.1, 10.9, 14.3, 9.7, 13.4])])
        let c = try Comparison(base: base, new: new)
        #expect(c.paired)
        #expect(c.rows[0].verdict == .worse)
        #expect(abs(c.rows[0].pValue - 2.0 / 256) < 1e-12)
        #expect(c.regressions.count == 1)
        let md = c.markdown()
        #expect(md.contains("| `task.wait.p99` | 10.75 ± 1.244 | 11.80 ± 1.438 "))
        #expect(md.contains("| +9.77% | 0.008 | **worse** |"))
        #expect(md.contains("❌ s: 1 metrics, 1 worse, 0 better (paired Wilcoxon)"))
    }

    @Test func seedNoiseIsNotAChange() throws {
        // Other seeds, same distribution: the values interleave.
        let base = Self.report([("task.wait.p99", .lowerIsBetter, [10, 12, 9, 11, 10, 13, 9, 12])])
        let new = Self.report([("task.wait.p99", .lowerIsBetter, [11, 9, 12, 10, 13, 10, 12, 9])],
                              seeds: [11, 12, 13, 14, 15, 16, 17, 18])
        let c = try Comparison(base: base, new: new)
        #expect(!c.paired)
        #expect(c.rows[0].verdict == .same)
    }

    @Test func aSignificantButTinyChangeStaysUnderTheThreshold() throws {
        let base = Self.report([("executor.utilization.mean", .higherIsBetter, [0.5, 0.6, 0.55, 0.52, 0.58, 0.57, 0.51, 0.54])])
        let better = Self.report([("executor.utilization.mean", .higherIsBetter, [0.501, 0.601, 0.551, 0.521, 0.581, 0.571, 0.511, 0.541])])
        #expect(try Comparison(base: base, new: better).rows[0].verdict == .same)  // +0.2 %: noise
        #expect(try Comparison(base: base, new: better, defaultThreshold: 0.001).rows[0].verdict == .better)
    }

    @Test func aMetricWithoutDirectionCanOnlyChange() throws {
        let base = Self.report([("sim.events", .neutral, [1, 2, 3, 4, 5, 6, 7, 8])])
        let new = Self.report([("sim.events", .neutral, [11, 12, 13, 14, 15, 16, 17, 18])])
        let c = try Comparison(base: base, new: new)
        #expect(c.rows[0].verdict == .changed && c.regressions.isEmpty)
    }

    @Test func reportsOfDifferentScenariosAreRefusedPlainly() {
        #expect(throws: ComparisonError.self) {
            try Comparison(base: Self.report([], name: "a"), new: Self.report([], name: "b"))
        }
    }
}

@Suite struct SVGChartTests {
    let chart = SVGChart(title: "Queue <length>", xLabel: "time (h)", yLabel: "tasks",
                         series: [.init(name: "a", points: [(0, 0), (1, 5), (2, 3)]),
                                  .init(name: "b", points: [(0, 1), (1, .nan), (2, 2)])])

    @Test func aChartIsOneSelfContainedSVGWithALinePerSeries() {
        let svg = chart.svg()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        // a in one line; b's missing sample breaks its line in two rather than bridging it.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3)
        #expect(svg.contains("Queue &lt;length&gt;"))   // escaped
        #expect(!svg.contains("nan"))                    // missing samples are left out
        #expect(svg == chart.svg())                      // the same data gives the same bytes
    }

    @Test func ticksAreRound() {
        #expect(SVGChart.ticks(0, 10) == [0, 2, 4, 6, 8, 10])
        #expect(SVGChart.ticks(0, 0.9) == [0, 0.2, 0.4, 0.6000000000000001, 0.8])
    }
}

@Suite struct ComparisonRegressionTests {
    @Test func pureSeedNoiseAcrossManyMetricsIsNotARegression() throws {
        // 30 metrics, each drawn afresh: by chance some would pass p < 0.05 uncorrected.
        var base: [(String, Direction, [Double])] = [], new: [(String, Direction, [Double])] = []
        var state: UInt64 = 7
        func noise() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) * 0x1p-53
        }
        for k in 0..<30 {
            base.append(("m\(k)", .lowerIsBetter, (0..<12).map { _ in 10 + noise() }))
            new.append(("m\(k)", .lowerIsBetter, (0..<12).map { _ in 10 + noise() }))
        }
        let c = try Comparison(base: ComparisonTests.report(base), new: ComparisonTests.report(new),
                               defaultThreshold: 0)
        let uncorrected = c.rows.filter { $0.pValue < 0.05 }.count
        #expect(c.regressions.isEmpty && c.rows.allSatisfy { $0.verdict == .same }, "uncorrected hits: \(uncorrected)")
    }

    @Test func aMetricThatLosesItsValueIsWorse() throws {
        let base = ComparisonTests.report([("task.wait.mean", .lowerIsBetter, [1, 2, 3, 4, 5, 6, 7, 8])])
        let new = ComparisonTests.report([("task.wait.mean", .lowerIsBetter, [Double](repeating: .nan, count: 8))])
        let c = try Comparison(base: base, new: new)
        #expect(c.rows[0].verdict == .worse)
        #expect(c.notes.contains("`task.wait.mean` has no value in the new run."))
    }

    @Test func reportsWithPrecisionAndAwkwardNumbersRoundTrip() throws {
        var run = RunDescription(scenario: "s", scenarioFingerprint: "f", seed: 1, replicationSeeds: [1, 2],
                                 durationSeconds: 60, warmupSeconds: 0)
        run.precision = PrecisionOutcome(target: 0.05, metrics: ["a"], met: true, cap: 10)
        let r = Report(run: run, metrics: [MetricResult(MetricDefinition("a", unit: "s", .lowerIsBetter),
                                                        values: [24.422766663333334, 1e-300])])
        let text = r.json().canonicalText()
        let back = try Report(json: JSONValue.parse(text))
        #expect(back.run.precision?.met == true)
        #expect(back.json().canonicalText() == text)
    }
}
