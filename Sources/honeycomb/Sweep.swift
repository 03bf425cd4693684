import ArgumentParser
import Foundation
import HoneycombLive
import HoneycombReport
import HoneycombSim
import HoneycombStats

struct Sweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario over a grid of policy settings on the same seeds and tabulate the results.",
        discussion: """
        Each --vary PATH=V1,V2,... names a field of the scenario and its values; the sweep runs
        every combination (or --sample K of them, drawn with the scenario's seed), each point in
        its own process, all on the same replication seeds (common random numbers), and writes
        sweep.md and sweep.csv: every point's metrics with 95 % intervals, the Pareto front on
        --pareto metrics, and the best point for --objective.

        A sweep too big for one machine runs in shards: `--shard I/N` runs only the points k
        (numbered from 0) with k mod N = I and writes their reports and the sweep's plan to
        --out, a folder or s3://BUCKET/PREFIX (the store of $HONEYCOMB_S3_URL, with
        $HONEYCOMB_S3_ACCESS_KEY and $HONEYCOMB_S3_SECRET_KEY); `--shard N` takes I from
        $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's pod). Then `sweep --merge FOLDER|s3://...
        --out FOLDER` assembles sweep.md and sweep.csv, byte for byte the unsharded sweep's.
        """)

    @Argument(help: "The scenario file (YAML); not with --merge.")
    var scenario: String?

    @Option(help: "I/N: run shard I (0 ≤ I < N) of the points; N alone: I from $JOB_COMPLETION_INDEX.")
    var shard: String?

    @Option(help: "Assemble the table from the shards' results in this folder or s3://BUCKET/PREFIX.")
    var merge: String?

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

    @Option(help: "Folder for the table and the points' reports (default: Reports/runs/<scenario>-sweep); with --shard, also s3://BUCKET/PREFIX.")
    var out: String?

    func run() async throws {
        if let merge { return try await assemble(merge) }
        guard let scenario else { throw ValidationError("give the scenario file (or --merge a sharded sweep's results)") }
        let part = try shard.map(parseShard)
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
        let plan = SweepPlan(scenario: name, points: grid.map { $0.map { [$0.path, $0.value] } }, metrics: list(metrics),
                             pareto: list(pareto), objective: objective)
        if let part {
            try await runShard(scenario, plan, grid, part)
            return
        }
        if let out, out.hasPrefix("s3://") { throw ValidationError("--out s3://... is for --shard; an unsharded sweep writes a folder") }
        let folder = out ?? "Reports/runs/\(safeName(name))-sweep"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try runPoints(scenario, grid, Array(grid.indices), folder: folder)
        try writeTable(plan, folder: folder)
    }

    /// Reads the points' reports from `folder` and writes sweep.md and sweep.csv there.
    private func writeTable(_ plan: SweepPlan, folder: String) throws {
        let reports = try plan.points.indices.map { try Report.load(path: "\(folder)/point-\($0 + 1)/report.json") }
        let table = SweepTable(
            points: zip(plan.points, reports).map { SweepPoint(parameters: $0.map { ($0[0], $0[1]) }, report: $1) },
            metrics: plan.metrics, pareto: plan.pareto, objective: plan.objective)
        try writeAtomically(table.markdown(), to: "\(folder)/sweep.md")
        try writeAtomically(table.csv(), to: "\(folder)/sweep.csv")
        print(table.markdown())
        print("wrote \(folder)/sweep.md and \(folder)/sweep.csv (\(plan.points.count) points)")
    }

    /// `--shard I/N` or `--shard N` with I from $JOB_COMPLETION_INDEX.
    private func parseShard(_ text: String) throws -> (index: Int, count: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        let indexText: String
        let countText: String
        if parts.count == 2 {
            (indexText, countText) = (String(parts[0]), String(parts[1]))
        } else if parts.count == 1 {
            guard let env = ProcessInfo.processInfo.environment["JOB_COMPLETION_INDEX"] else {
                throw ValidationError("--shard \(text) takes its index from JOB_COMPLETION_INDEX, which is not set; give --shard I/N")
            }
            (indexText, countText) = (env, text)
        } else {
            throw ValidationError("--shard takes I/N (or N, with JOB_COMPLETION_INDEX), not \(text)")
        }
        guard let n = Int(countText), n >= 1, let i = Int(indexText), (0..<n).contains(i) else {
            throw ValidationError("--shard: the index must be 0 to N-1 and N at least 1, found \(indexText)/\(countText)")
        }
        return (i, n)
    }

    /// Runs the shard's points, writing their reports and the plan to --out (a folder, or
    /// the S3 store).
    private func runShard(_ scenario: String, _ plan: SweepPlan, _ grid: [[ScenarioOverride]], _ part: (index: Int, count: Int)) async throws {
        let mine = grid.indices.filter { $0 % part.count == part.index }
        let target = out ?? "Reports/runs/\(safeName(plan.scenario))-sweep"
        let store = try SweepStore(target)
        let folder = store.localFolder ?? FileManager.default.temporaryDirectory.appendingPathComponent("honeycomb-shard-\(UUID().uuidString)").path
        defer { if store.localFolder == nil { try? FileManager.default.removeItem(atPath: folder) } }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try runPoints(scenario, grid, mine, folder: folder)
        for k in mine {
            try await store.put("point-\(k + 1)/report.json", try Data(contentsOf: URL(fileURLWithPath: "\(folder)/point-\(k + 1)/report.json")))
        }
        // Every shard writes the same plan; the merge checks that it is one sweep.
        try await store.put("plan.json", try plan.encoded())
        print("shard \(part.index)/\(part.count): \(mine.count) of \(grid.count) points written to \(target); "
              + "when every shard is done: honeycomb sweep --merge \(target) --out FOLDER")
    }

    /// `--merge`: the plan and every point's report from the shards' results, then the table.
    private func assemble(_ source: String) async throws {
        guard scenario == nil, vary.isEmpty, shard == nil else {
            throw ValidationError("--merge takes the shards' results only: no scenario, --vary or --shard")
        }
        let store = try SweepStore(source)
        guard let folder = out ?? store.localFolder else { throw ValidationError("--merge s3://... needs --out FOLDER") }
        guard let planData = try await store.get("plan.json") else {
            throw CLIFailure("\(source) holds no plan.json: no shard of a sweep wrote there")
        }
        let plan: SweepPlan
        do { plan = try JSONDecoder().decode(SweepPlan.self, from: planData) } catch {
            throw CLIFailure("\(source)/plan.json is not a sweep plan: \(error)")
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var missing: [Int] = []
        for k in plan.points.indices {
            let key = "point-\(k + 1)/report.json"
            guard let data = try await store.get(key) else { missing.append(k); continue }
            if store.localFolder != folder {
                try FileManager.default.createDirectory(atPath: "\(folder)/point-\(k + 1)", withIntermediateDirectories: true)
                try data.write(to: URL(fileURLWithPath: "\(folder)/\(key)"), options: .atomic)
            }
        }
        guard missing.isEmpty else {
            throw CLIFailure("\(source) lacks the reports of \(missing.count) of \(plan.points.count) points ("
                + missing.prefix(10).map { "point \($0 + 1)" }.joined(separator: ", ") + (missing.count > 10 ? ", ..." : "")
                + "): a shard has not finished, or failed")
        }
        try writeTable(plan, folder: folder)
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

    /// Runs the points `indices` of the grid, each as `honeycomb simulate` in its own process,
    /// `jobs` at a time; point k's report goes to FOLDER/point-(k+1).
    private func runPoints(_ scenario: String, _ grid: [[ScenarioOverride]], _ indices: [Int], folder: String) throws {
        guard let me = Bundle.main.executablePath else { throw CLIFailure("cannot find the honeycomb binary to run points") }
        var running: [(Int, Process)] = []
        var cursor = 0, finished = 0
        var failures: [String] = []
        func wait(_ entry: (Int, Process)) {
            entry.1.waitUntilExit()
            finished += 1
            if entry.1.terminationStatus != 0 { failures.append("point \(entry.0 + 1) exited with \(entry.1.terminationStatus)") }
            if isatty(STDERR_FILENO) != 0 {
                FileHandle.standardError.write(Data("\rsweep: \(finished)/\(indices.count) points done".utf8))
            }
        }
        while cursor < indices.count || !running.isEmpty {
            if cursor < indices.count && running.count < max(1, jobs) {
                let next = indices[cursor]
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
                cursor += 1
            } else if let k = running.firstIndex(where: { !$0.1.isRunning }) {
                wait(running.remove(at: k))
            } else {
                usleep(20_000)
            }
        }
        if isatty(STDERR_FILENO) != 0 { FileHandle.standardError.write(Data("\n".utf8)) }
        guard failures.isEmpty else { throw CLIFailure("the sweep failed: " + failures.joined(separator: "; ")) }
    }
}

/// What a sweep is, written beside its points' reports: enough to assemble the table from
/// them without the scenario (`sweep --merge`).
struct SweepPlan: Codable, Equatable {
    var schema = "honeycomb-sweep-plan/1"
    var scenario: String
    /// Each point's overrides, in the grid's order: [path, value] pairs.
    var points: [[[String]]]
    var metrics: [String]
    var pareto: [String]
    var objective: String

    init(scenario: String, points: [[[String]]], metrics: [String], pareto: [String], objective: String) {
        self.scenario = scenario
        self.points = points
        self.metrics = metrics
        self.pareto = pareto
        self.objective = objective
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}

/// Where a sharded sweep's results live: a folder, or an S3 bucket and prefix.
struct SweepStore {
    var localFolder: String?
    var s3: (client: S3Client, bucket: String, prefix: String)?

    init(_ location: String) throws {
        guard location.hasPrefix("s3://") else {
            localFolder = location
            return
        }
        let rest = location.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = String(rest.dropFirst(bucket.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        guard !bucket.isEmpty else { throw ValidationError("\(location): s3://BUCKET/PREFIX names no bucket") }
        let env = ProcessInfo.processInfo.environment
        func need(_ names: String...) throws -> String {
            for n in names { if let v = env[n], !v.isEmpty { return v } }
            throw ValidationError("\(location) needs \(names.joined(separator: " or ")) set")
        }
        guard let endpoint = URL(string: try need("HONEYCOMB_S3_URL", "AWS_ENDPOINT_URL")) else {
            throw ValidationError("HONEYCOMB_S3_URL is not a URL")
        }
        s3 = (S3Client(endpoint: endpoint, accessKey: try need("HONEYCOMB_S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
                       secretKey: try need("HONEYCOMB_S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY")), bucket, prefix)
    }

    private func key(_ name: String) -> String { s3!.prefix.isEmpty ? name : s3!.prefix + "/" + name }

    func put(_ name: String, _ data: Data) async throws {
        if let localFolder {
            let url = URL(fileURLWithPath: "\(localFolder)/\(name)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if (try? Data(contentsOf: url)) != data { try data.write(to: url, options: .atomic) }
            return
        }
        do {
            if try await !s3!.client.bucketExists(s3!.bucket) { try await s3!.client.createBucket(s3!.bucket) }
            try await s3!.client.put(bucket: s3!.bucket, key: key(name), data: Array(data), contentType: "application/json")
        } catch {
            throw CLIFailure("cannot write s3://\(s3!.bucket)/\(key(name)): \(error)")
        }
    }

    func get(_ name: String) async throws -> Data? {
        if let localFolder { return FileManager.default.contents(atPath: "\(localFolder)/\(name)") }
        do {
            return try await s3!.client.get(bucket: s3!.bucket, key: key(name)).map { Data($0) }
        } catch {
            throw CLIFailure("cannot read s3://\(s3!.bucket)/\(key(name)): \(error)")
        }
    }
}
