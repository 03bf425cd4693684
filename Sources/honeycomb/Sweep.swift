import ArgumentParser
import Foundation
import HoneycombReport
import HoneycombSim
import HoneycombStats

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario over a grid of policy settings on the same seeds and tabulate the results.",
        discussion: """
        Each --vary PATH=V1,V2,... names a field of the scenario and its values; the sweep runs
        every combination (or --sample K of them, drawn with the scenario's seed), each point in
        its own process, all on the same replication seeds (common random numbers), and writes
        sweep.md and sweep.csv: every point's metrics with 95 % intervals, the Pareto front on
        --pareto metrics, and the best point for --objective.
        """)

    @Argument(help: "The scenario file (YAML).")
    var scenario: String

    @Option(help: "PATH=V1,V2,... (repeatable): a field and the values to try.")
    var vary: [String] = []

    @Option(help: "Run only this many points, drawn at random from the grid.")
    var sample: Int?

    @Option(help: "Processes at once (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Replications per point, instead of the scenario's.")
    var replications: Int?

    @Option(help: "Metrics to show, comma-separated.")
    var metrics: String = "task.wait.mean,task.wait.p99,task.turnaround.p99,executor.utilization.mean,task.lost,work.lost_seconds"

    @Option(help: "The metric to optimise (in its own direction).")
    var objective: String = "task.wait.p99"

    @Option(help: "Metrics for the Pareto front, comma-separated.")
    var pareto: String = "task.wait.p99,executor.utilization.mean"

    @Option(help: "Folder for the table and the points' reports (default: Reports/runs/<scenario>-sweep).")
    var out: String?

    func run() throws {
        let axes = try vary.map(parseAxis)
        guard !axes.isEmpty else { throw ValidationError("give at least one --vary PATH=V1,V2,...") }
        var grid: [[ScenarioOverride]] = [[]]
        for axis in axes {
            grid = grid.flatMap { point in axis.values.map { point + [ScenarioOverride(path: axis.path, value: $0)] } }
        }
        if let replications, replications < 1 { throw ValidationError("--replications must be at least 1") }
        // Every point must load, and every metric named must exist, before any runs: a typo
        // fails in a second, not after an hour.
        var name = ""
        var seed: UInt64 = 1
        for point in grid {
            do {
                let s = try Scenario.load(path: scenario, overrides: point)
                name = s.name
                seed = s.seed
                try checkMetrics(SimMetrics.definitions(for: s))
            } catch let e as ScenarioError { throw CLIFailure(e.description) }
        }
        if let sample, sample < grid.count {
            guard sample >= 1 else { throw ValidationError("--sample must be at least 1") }
            let stream = RandomStream(runSeed: seed, purpose: "sweep-sample")
            var order = Array(grid.indices)
            for i in 0..<sample { order.swapAt(i, i + stream.integer(below: order.count - i)) }
            grid = order[..<sample].sorted().map { grid[$0] }
        }
        let folder = out ?? "Reports/runs/\(safeName(name))-sweep"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let reports = try runPoints(grid, folder: folder)
        let table = SweepTable(
            points: zip(grid, reports).map { SweepPoint(parameters: $0.map { ($0.path, $0.value) }, report: $1) },
            metrics: list(metrics), pareto: list(pareto), objective: objective)
        try writeAtomically(table.markdown(), to: "\(folder)/sweep.md")
        try writeAtomically(table.csv(), to: "\(folder)/sweep.csv")
        print(table.markdown())
        print("wrote \(folder)/sweep.md and \(folder)/sweep.csv (\(grid.count) points)")
    }

    private func parseAxis(_ text: String) throws -> (path: String, values: [String]) {
        guard let o = ScenarioOverride(text), !o.value.isEmpty else {
            throw ValidationError("--vary takes PATH=V1,V2,..., got '\(text)'")
        }
        return (o.path, topLevelItems(o.value))
    }

    /// Splits `a,{x: 1, y: 2},[3, 4]` on the commas outside brackets and quotes, so that
    /// YAML flow values can be swept.
    private func topLevelItems(_ text: String) -> [String] {
        var items: [String] = [], current = "", depth = 0
        var quote: Character?
        for c in text {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "{" || c == "[" {
                depth += 1
            } else if c == "}" || c == "]" {
                depth -= 1
            } else if c == "," && depth == 0 {
                items.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            }
            current.append(c)
        }
        items.append(current.trimmingCharacters(in: .whitespaces))
        return items
    }

    private func list(_ s: String) -> [String] {
        s.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private func checkMetrics(_ known: [MetricDefinition]) throws {
        let names = known.map(\.name)
        for m in list(metrics) + list(pareto) + [objective] where !names.contains(m) {
            var message = "the reports have no metric '\(m)'"
            if let near = closest(m, in: names) { message += " (did you mean '\(near)'?)" }
            throw CLIFailure(message + "; they have: " + names.joined(separator: ", "))
        }
        for m in list(pareto) + [objective] where known.first(where: { $0.name == m })!.direction == .neutral {
            throw CLIFailure("'\(m)' has no better direction, so it cannot be optimised")
        }
    }

    /// Runs each point as `honeycomb simulate` in its own process, `jobs` at a time.
    private func runPoints(_ grid: [[ScenarioOverride]], folder: String) throws -> [Report] {
        guard let me = Bundle.main.executablePath else { throw CLIFailure("cannot find the honeycomb binary to run points") }
        var running: [(Int, Process)] = []
        var next = 0, finished = 0
        var failures: [String] = []
        func wait(_ entry: (Int, Process)) {
            entry.1.waitUntilExit()
            finished += 1
            if entry.1.terminationStatus != 0 { failures.append("point \(entry.0 + 1) exited with \(entry.1.terminationStatus)") }
            if isatty(STDERR_FILENO) != 0 {
                FileHandle.standardError.write(Data("\rsweep: \(finished)/\(grid.count) points done".utf8))
            }
        }
        while next < grid.count || !running.isEmpty {
            if next < grid.count && running.count < max(1, jobs) {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: me)
                var args = [scenario.hasPrefix("/") ? scenario : FileManager.default.currentDirectoryPath + "/" + scenario]
                args = ["simulate"] + args + ["--out", "\(folder)/point-\(next + 1)", "--quiet", "--jobs", "1"]
                if let replications { args += ["--replications", String(replications)] }
                for o in grid[next] { args += ["--set", o.description] }
                p.arguments = args
                p.standardOutput = FileHandle.nullDevice
                do { try p.run() } catch {
                    for (_, child) in running { child.terminate(); child.waitUntilExit() }
                    throw CLIFailure("could not start point \(next + 1): \(error)")
                }
                running.append((next, p))
                next += 1
            } else if let k = running.firstIndex(where: { !$0.1.isRunning }) {
                wait(running.remove(at: k))
            } else {
                usleep(20_000)
            }
        }
        if isatty(STDERR_FILENO) != 0 { FileHandle.standardError.write(Data("\n".utf8)) }
        guard failures.isEmpty else { throw CLIFailure("the sweep failed: " + failures.joined(separator: "; ")) }
        return try grid.indices.map { try Report.load(path: "\(folder)/point-\($0 + 1)/report.json") }
    }
}
