import Foundation
import Testing

/// The `honeycomb` binary as a user runs it: files written, errors printed, exit statuses.
@Suite struct CommandLineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized

    /// Runs the debug binary `swift test` built beside the tests.
    static func honeycomb(_ args: [String], env: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let binary = root.appendingPathComponent(".build/debug/honeycomb")
        try #require(FileManager.default.isExecutableFile(atPath: binary.path),
                     "\(binary.path) is missing: swift test builds it; run `swift build` first")
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        if !env.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(env) { _, b in b } }
        p.currentDirectoryURL = root
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("honeycomb-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    @Test func simulateWritesTheSameReportTwiceAndPrintsTheSummary() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["simulate", "Scenarios/overload.yaml", "--replications", "2", "--seed", "3"]
        let a = try Self.honeycomb(args + ["--out", dir.appendingPathComponent("a").path])
        let b = try Self.honeycomb(args + ["--out", dir.appendingPathComponent("b").path, "--jobs", "1"])
        #expect(a.status == 0 && b.status == 0, "\(a.err)\(b.err)")
        #expect(a.out.contains("| `task.wait.p99` | s |"))
        #expect(a.out.contains("events/s"))
        let ra = try Data(contentsOf: dir.appendingPathComponent("a/report.json"))
        let rb = try Data(contentsOf: dir.appendingPathComponent("b/report.json"))
        #expect(ra == rb)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("a/report.md").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("a/runtime.json").path))
        // The page and its plots, the same bytes both times.
        let html = try String(contentsOf: dir.appendingPathComponent("a/report.html"), encoding: .utf8)
        for plot in ["wait-cdf.svg", "utilization.svg", "online.svg", "queue.svg"] {
            #expect(html.contains("<img src=\"\(plot)\""))
            let a = try Data(contentsOf: dir.appendingPathComponent("a/\(plot)"))
            #expect(a == (try Data(contentsOf: dir.appendingPathComponent("b/\(plot)"))))
        }
    }

    @Test func aBadScenarioIsRefusedWithItsPlaceAndNothingIsWritten() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml")
        try "name: x\nduration: 1h\nexecutors:\n  - pool: p\n    cuont: 3\n".write(to: bad, atomically: true, encoding: .utf8)
        let r = try Self.honeycomb(["simulate", bad.path, "--out", dir.appendingPathComponent("out").path])
        #expect(r.status == 1)
        #expect(r.err.contains("bad.yaml:5:5: executors[0].cuont: unknown key 'cuont' (did you mean 'count'?)"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("out").path))
        let v = try Self.honeycomb(["validate", bad.path, "Scenarios/edge-churn.yaml"])
        #expect(v.status == 1)
        #expect(v.out.contains("edge-churn.yaml: ok"))
    }
}

@Suite struct SweepCommandTests {
    @Test func aSweepRunsEveryPointOnTheSameSeedsAndMarksTheBest() throws {
        let dir = try CommandLineTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A short run: the varied duration and warm-up have one value each.
        let r = try CommandLineTests.honeycomb([
            "sweep", "Scenarios/placement-study.yaml", "--replications", "2",
            "--vary", "policy.scheduler.score.reliability=0,2", "--vary", "duration=90m", "--vary", "warmup=30m",
            "--objective", "work.lost_seconds", "--pareto", "work.lost_seconds,task.wait.p99", "--out", dir.path,
        ])
        #expect(r.status == 0, "\(r.err)")
        let csv = try String(contentsOf: dir.appendingPathComponent("sweep.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 3)
        #expect(r.out.contains("Best for `work.lost_seconds`"))
        // Every point ran on the same replication seeds.
        let seeds = try (1...2).map { i -> String in
            let text = try String(contentsOf: dir.appendingPathComponent("point-\(i)/report.json"), encoding: .utf8)
            return String(text[text.range(of: "\"replicationSeeds\"")!.lowerBound...].prefix(80))
        }
        #expect(seeds[0] == seeds[1])
    }

    @Test func shardsMergedMakeTheUnshardedSweepByteForByte() throws {
        let dir = try CommandLineTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sweep = ["sweep", "Scenarios/placement-study.yaml", "--replications", "2",
                     "--vary", "policy.scheduler.score.reliability=0,1,2,3", "--vary", "duration=90m", "--vary", "warmup=30m",
                     "--objective", "work.lost_seconds", "--pareto", "work.lost_seconds,task.wait.p99"]
        let whole = try CommandLineTests.honeycomb(sweep + ["--out", dir.appendingPathComponent("whole").path])
        #expect(whole.status == 0, "\(whole.err)")
        // Three shards of four points; the last takes its index as a Kubernetes Indexed Job's pod does.
        let parts = dir.appendingPathComponent("parts").path
        for (args, env) in [(["--shard", "0/3"], [:]), (["--shard", "1/3"], [:]), (["--shard", "3"], ["JOB_COMPLETION_INDEX": "2"])] {
            let r = try CommandLineTests.honeycomb(sweep + args + ["--out", parts], env: env)
            #expect(r.status == 0, "\(args): \(r.err)")
        }
        // With a shard's reports gone, the merge says which points are missing and writes no table.
        let moved = dir.appendingPathComponent("point-2")
        try FileManager.default.moveItem(atPath: parts + "/point-2", toPath: moved.path)
        let early = try CommandLineTests.honeycomb(["sweep", "--merge", parts, "--out", dir.appendingPathComponent("early").path])
        #expect(early.status != 0 && early.err.contains("lacks the reports of 1 of 4 points (point 2)"), "\(early.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("early/sweep.csv").path))
        try FileManager.default.moveItem(atPath: moved.path, toPath: parts + "/point-2")
        let merged = try CommandLineTests.honeycomb(["sweep", "--merge", parts, "--out", dir.appendingPathComponent("merged").path])
        #expect(merged.status == 0, "\(merged.err)")
        for file in ["sweep.csv", "sweep.md"] {
            let a = try Data(contentsOf: dir.appendingPathComponent("whole/\(file)"))
            let b = try Data(contentsOf: dir.appendingPathComponent("merged/\(file)"))
            #expect(a == b, "\(file) of the merged shards differs from the unsharded sweep's")
        }
        let bad = try CommandLineTests.honeycomb(sweep + ["--shard", "3/3"])
        #expect(bad.status != 0 && bad.err.contains("0 to N-1"), "\(bad.err)")
    }

    @Test func aTypoInAVariedFieldFailsBeforeAnythingRuns() throws {
        let r = try CommandLineTests.honeycomb(["sweep", "Scenarios/overload.yaml", "--vary", "policy.schedular.candidates=all"])
        #expect(r.status == 1)
        #expect(r.err.contains("unknown key 'schedular' (did you mean 'scheduler'?)"))
    }
}

@Suite struct SweepInputTests {
    @Test func aMisspeltMetricFailsBeforeAnyPointRuns() throws {
        let dir = try CommandLineTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CommandLineTests.honeycomb(["sweep", "Scenarios/overload.yaml", "--vary", "replications=1",
                                                "--objective", "task.wait.p999", "--out", dir.path])
        #expect(r.status == 1)
        #expect(r.err.contains("no metric 'task.wait.p999'"))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("point-1").path))
    }

    @Test func flowValuesCanBeSwept() throws {
        let dir = try CommandLineTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CommandLineTests.honeycomb([
            "sweep", "Scenarios/office-fleet.yaml", "--replications", "1", "--vary", "duration=40m", "--vary", "warmup=10m",
            "--vary", "network.dispatch={lognormal: {median: 4ms, sigma: 0.6}},50ms", "--out", dir.path,
        ])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("| 1 | 40m | 10m | {lognormal: {median: 4ms, sigma: 0.6}} |"))
        #expect(r.out.contains("| 2 | 40m | 10m | 50ms |"))
    }
}

/// The CI gate as `deploy/ci/gate.sh` runs it: a run against its committed baseline. That the
/// same policy on the same seeds compares unchanged is what `make gate` itself checks, on
/// every gate scenario, before `make test` in CI (and byte-identical reports are
/// `DeterminismTests`'); here, that a worse policy fails it.
@Suite struct GateTests {
    @Test func aWorsePolicyOnTheSameSeedsFailsTheGate() throws {
        let dir = try CommandLineTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let baseline = "Reports/placement-study/report.json"
        // Random placement ignores reliability: more work lost with the churning laptops.
        let worse = try CommandLineTests.honeycomb(["simulate", "Scenarios/placement-study.yaml", "--quiet",
                                                    "--set", "policy.scheduler.candidates=random",
                                                    "--out", dir.appendingPathComponent("worse").path])
        #expect(worse.status == 0, "\(worse.err)")
        let gate = try CommandLineTests.honeycomb(["compare", baseline, dir.appendingPathComponent("worse/report.json").path,
                                                   "--format", "markdown"])
        #expect(gate.status == 1)
        #expect(gate.out.contains("❌ placement-study"))
        #expect(gate.out.contains("| `work.lost_seconds` |"))
        #expect(gate.out.contains("**worse**"))
        #expect(gate.out.contains("The scenario differs between the two runs"))
        // The baseline itself compares clean with itself: what `make gate` relies on.
        let same = try CommandLineTests.honeycomb(["compare", baseline, baseline])
        #expect(same.status == 0 && same.out.contains("0 worse, 0 better (paired Wilcoxon)"), "\(same.out)\(same.err)")
    }

    @Test func unusableInputExitsWithTwo() throws {
        let r = try CommandLineTests.honeycomb(["compare", "Reports/overload/report.json", "Reports/placement-study/report.json"])
        #expect(r.status == 2)
        #expect(r.err.contains("reports of different scenarios: 'overload' and 'placement-study'"))
        let m = try CommandLineTests.honeycomb(["compare", "/nonexistent.json", "Reports/overload/report.json"])
        #expect(m.status == 2)
    }
}

@Suite struct ComparePlotTests {
    @Test func compareDrawsBaseAndNewOnTheSameAxes() throws {
        let dir = try CommandLineTests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, extra) in [("a", [String]()), ("b", ["--set", "policy.scheduler.score.binpack=1"])] {
            let r = try CommandLineTests.honeycomb(["simulate", "Scenarios/office-fleet.yaml", "--replications", "2",
                                                    "--set", "duration=1h", "--set", "warmup=10m", "--quiet",
                                                    "--out", dir.appendingPathComponent(name).path] + extra)
            #expect(r.status == 0, "\(r.err)")
        }
        let plots = dir.appendingPathComponent("plots")
        let r = try CommandLineTests.honeycomb(["compare", dir.appendingPathComponent("a/report.json").path,
                                                dir.appendingPathComponent("b/report.json").path, "--plots", plots.path])
        #expect(r.status == 0 || r.status == 1, "\(r.err)")
        let svg = try String(contentsOf: plots.appendingPathComponent("utilization.svg"), encoding: .utf8)
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.contains(">base</text>") && svg.contains(">new</text>"))
    }
}
