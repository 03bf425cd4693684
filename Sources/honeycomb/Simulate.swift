import ArgumentParser
import Foundation
import HoneycombCore
import HoneycombReport
import HoneycombSim

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario's replications and write report.json and report.md.")

    @Argument(help: "The scenario file (YAML).")
    var scenario: String

    @Option(help: "Folder for the report (default: Reports/runs/<scenario name>).")
    var out: String?

    @Option(help: "Seed, instead of the scenario's.")
    var seed: UInt64?

    @Option(help: "Number of replications, instead of the scenario's.")
    var replications: Int?

    @Option(help: "Add replications until every headline metric's 95 % half-width is within this share of its mean, e.g. 5%.")
    var precision: String?

    @Option(name: .customLong("max-replications"), help: "The most replications --precision may run.")
    var maxReplications: Int = 100

    @Option(help: "Replications run at once (default: the number of cores).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .customLong("set"), help: "Change a field of the scenario: PATH=VALUE (repeatable), e.g. policy.scheduler.score.binpack=1.")
    var overrides: [String] = []

    @Flag(help: "Print only where the report went.")
    var quiet = false

    @Flag(name: .customLong("update-baseline"),
          help: "Write the report as the committed baseline, Reports/<scenario file name>/ (report and series, no plots or runtime).")
    var updateBaseline = false

    func validate() throws {
        if let replications, replications < 1 { throw ValidationError("--replications must be at least 1") }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if let precision, parsePrecision(precision) == nil {
            throw ValidationError("--precision takes a share such as 5% or 0.05 (above 0, below 100 %), got '\(precision)'")
        }
        if maxReplications < 2 { throw ValidationError("--max-replications must be at least 2") }
        for o in overrides where ScenarioOverride(o) == nil {
            throw ValidationError("--set takes PATH=VALUE, got '\(o)'")
        }
    }

    func run() throws {
        let loaded: Scenario
        do { loaded = try Scenario.load(path: scenario, overrides: overrides.compactMap(ScenarioOverride.init)) } catch let e as ScenarioError {
            throw CLIFailure(e.description)
        }
        if updateBaseline && out != nil { throw ValidationError("--update-baseline writes to Reports/<scenario>; drop --out") }
        // Baselines are named after the scenario file, as Reports/gate.list names them.
        let fileName = URL(fileURLWithPath: scenario).deletingPathExtension().lastPathComponent
        let folder = out ?? (updateBaseline ? "Reports/\(safeName(fileName))" : "Reports/runs/\(safeName(loaded.name))")
        let watch = Stopwatch()
        var result: (Report, events: Int, decisions: Int, series: [RunSeries])?
        // A progress line on a terminal; nothing when output goes elsewhere.
        let started = ContinuousClock.now
        var progress: (@Sendable (RunProgress) -> Void)?
        if isatty(STDERR_FILENO) != 0 {
            progress = { @Sendable p in FileHandle.standardError.write(Data(progressLine(p, since: started).utf8)) }
        }
        watch.measure {
            result = SimulationRunner.run(loaded, seed: seed, replications: replications, parallelism: jobs,
                                          precision: precision.flatMap(parsePrecision).map { ($0, maxReplications) },
                                          progress: progress)
        }
        if progress != nil { FileHandle.standardError.write(Data("\n".utf8)) }
        let (report, events, decisions, series) = result!
        let wall = watch.seconds
        let runtime = RuntimeFigures(wallSeconds: wall, events: events, decisions: decisions,
                                     peakResidentBytes: peakResidentBytes())

        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeAtomically(report.json().canonicalText(), to: "\(folder)/report.json")
        try writeAtomically(report.markdown(), to: "\(folder)/report.md")
        let mean = RunSeries.mean(of: series)
        try writeAtomically(mean.json().canonicalText(), to: "\(folder)/series.json")
        if !updateBaseline {
            let charts = Plots.charts([("mean of \(series.count) replications", mean)], llm: loaded.llm != nil)
            for c in charts { try writeAtomically(c.svg, to: "\(folder)/\(c.file)") }
            try writeAtomically(report.html(plots: charts.map { ($0.file, $0.title) }), to: "\(folder)/report.html")
        }
        if !updateBaseline { try writeAtomically(runtime.json().canonicalText(), to: "\(folder)/runtime.json") }
        if !quiet { print(report.markdown()) }
        print(runtimeLine(runtime))
        print("wrote \(folder)/report.json, \(folder)/report.md"
              + (updateBaseline ? " (baseline)" : ", report.html, plots and runtime.json"))
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check scenario files without running them.")

    @Argument(help: "Scenario files (YAML).")
    var files: [String]

    func run() throws {
        var bad = 0
        for f in files {
            do {
                let s = try Scenario.load(path: f)
                let executors = s.pools.reduce(0) { $0 + $1.count }
                print("\(f): ok — '\(s.name)', \(executors) executors in \(s.pools.count) pool(s), "
                      + "\(s.agents.count) agent(s), \(s.workloads.count) workload(s), \(s.events.count) event(s)")
            } catch let e as ScenarioError {
                printError(e.description)
                bad += 1
            }
        }
        if bad > 0 { throw ExitCode(1) }
    }
}

/// A failure the user caused, printed plainly (no stack, no type names) with exit status 1.
struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Writes through a temporary file and a rename, so a reader never sees half a report.
func writeAtomically(_ text: String, to path: String) throws {
    let tmp = path + ".tmp"
    try Data(text.utf8).write(to: URL(fileURLWithPath: tmp))
    _ = try? FileManager.default.removeItem(atPath: path)
    try FileManager.default.moveItem(atPath: tmp, toPath: path)
}

func safeName(_ s: String) -> String {
    String(s.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "-" })
}

/// `5%` or `0.05` as a fraction in (0, 1).
func parsePrecision(_ text: String) -> Double? {
    let t = text.trimmingCharacters(in: .whitespaces)
    let v = t.hasSuffix("%") ? Double(t.dropLast()).map { $0 / 100 } : Double(t)
    guard let v, v > 0, v < 1 else { return nil }
    return v
}

/// `simulate: 3/8 replications done, at 2h10m of 4h, 12.3M events, 1.5M events/s`.
func progressLine(_ p: RunProgress, since started: ContinuousClock.Instant) -> String {
    let d = ContinuousClock.now - started
    let wall = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    let millions = Double(p.events) / 1e6
    let rate = wall > 0 ? millions / wall : 0
    let at = TimeSpan(nanoseconds: p.virtualTime.nanoseconds / 60_000_000_000 * 60_000_000_000)
    return "\rsimulate: \(p.done)/\(p.total) replications done, at \(at) of \(p.duration), "
        + "\(Report.figure((millions * 10).rounded() / 10))M events, \(Report.figure((rate * 100).rounded() / 100))M events/s   "
}

/// The process's peak resident set, from getrusage (kilobytes on Linux).
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

func runtimeLine(_ r: RuntimeFigures) -> String {
    let mib = Double(r.peakResidentBytes) / 1_048_576
    return "runtime: \(Report.figure(r.wallSeconds)) s wall, \(r.events) events, "
        + "\(Report.figure(r.eventsPerSecond.rounded())) events/s, "
        + "\(Report.figure(r.decisionsPerSecond.rounded())) placement decisions/s, peak memory \(Report.figure(mib.rounded())) MiB"
}
