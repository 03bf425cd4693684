import ArgumentParser
import Foundation
import HoneycombReport
import HoneycombSim

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two reports (or two folders of reports): what got better, worse, or stayed the same.",
        discussion: """
        Paired Wilcoxon signed-rank tests when both reports ran on the same seeds, Mann–Whitney U
        otherwise. A change counts when p < --alpha and it moves the mean by more than the noise
        threshold; the metric's direction decides better or worse.
        Exit status: 0 when nothing got significantly worse, 1 when something did, 2 when the
        input cannot be compared.
        """)

    @Argument(help: "The base report.json, or a folder of <scenario>/report.json.")
    var base: String

    @Argument(help: "The new report.json, or a folder like the base.")
    var new: String

    @Option(help: "text, markdown or json.")
    var format: String = "text"

    @Option(help: "Noise threshold for every metric, in percent of the base mean.")
    var threshold: Double = 1

    @Option(name: .customLong("metric-threshold"), help: "METRIC=PERCENT (repeatable): a metric's own noise threshold.")
    var metricThresholds: [String] = []

    @Option(help: "Significance level.")
    var alpha: Double = 0.05

    @Option(help: "Folder for plots of base and new on the same axes (from the series.json beside each report).")
    var plots: String?

    mutating func run() throws {
        do {
            guard ["text", "markdown", "json"].contains(format) else {
                throw ComparisonError(description: "--format takes text, markdown or json, not '\(format)'")
            }
            var thresholds: [String: Double] = [:]
            for t in metricThresholds {
                guard let eq = t.firstIndex(of: "="), let v = Double(t[t.index(after: eq)...]) else {
                    throw ComparisonError(description: "--metric-threshold takes METRIC=PERCENT, got '\(t)'")
                }
                thresholds[String(t[..<eq])] = v / 100
            }
            let pairs = try pairs()
            let comparisons = try pairs.map {
                try Comparison(base: $0.0, new: $0.1, alpha: alpha, defaultThreshold: threshold / 100, thresholds: thresholds)
            }
            if let plots { try drawPlots(pairs, into: plots) }
            switch format {
            case "markdown": print(comparisons.map { $0.markdown() }.joined(separator: "\n"))
            case "json":
                print(JSONValue.object(["comparisons": .array(comparisons.map { $0.json() }),
                                        "worse": .number(Double(comparisons.reduce(0) { $0 + $1.regressions.count }))])
                        .canonicalText(), terminator: "")
            default: print(comparisons.map { $0.text() }.joined(separator: "\n"))
            }
            if comparisons.contains(where: { !$0.regressions.isEmpty }) { throw ExitCode(1) }
        } catch let e as ExitCode {
            throw e
        } catch {
            // Anything else (unreadable reports, different scenarios, a folder that cannot be
            // written) means the input could not be compared: 2, never "a regression".
            printError("compare: \(error)")
            throw ExitCode(2)
        }
    }

    /// Base and new on the same axes, for each pair whose folders hold a series.json.
    private func drawPlots(_ pairs: [(Report, Report, String, String)], into folder: String) throws {
        for (b, _, bPath, nPath) in pairs {
            func series(_ reportPath: String) -> RunSeries? {
                let path = URL(fileURLWithPath: reportPath).deletingLastPathComponent().appendingPathComponent("series.json").path
                guard let data = FileManager.default.contents(atPath: path),
                      let json = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else { return nil }
                return RunSeries(json: json)
            }
            guard let bs = series(bPath), let ns = series(nPath) else {
                printError("compare: no series.json beside both reports of \(b.run.scenario): no plots for it")
                continue
            }
            let dir = pairs.count > 1 ? "\(folder)/\(safeName(b.run.scenario))" : folder
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let llm = b.metrics.contains { $0.definition.name.hasPrefix("llm.") }
            for c in Plots.charts([("base", bs), ("new", ns)], llm: llm) { try writeAtomically(c.svg, to: "\(dir)/\(c.file)") }
        }
    }

    /// The reports to compare (with their paths): two files, or the scenarios two folders have in common.
    private func pairs() throws -> [(Report, Report, String, String)] {
        var isDir: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: base, isDirectory: &isDir) else {
            throw ComparisonError(description: "\(base) does not exist")
        }
        if !isDir.boolValue { return [(try Report.load(path: base), try Report.load(path: new), base, new)] }
        func reports(_ folder: String) throws -> [String: String] {
            var out: [String: String] = [:]
            for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] {
                let path = "\(folder)/\(name)/report.json"
                if fm.fileExists(atPath: path) { out[name] = path }
            }
            return out
        }
        let b = try reports(base), n = try reports(new)
        let common = b.keys.filter { n[$0] != nil }.sorted()
        guard !common.isEmpty else {
            throw ComparisonError(description: "\(base) and \(new) have no scenario folder with a report.json in common")
        }
        let missing = b.keys.filter { n[$0] == nil }.sorted()
        guard missing.isEmpty else {
            throw ComparisonError(description: "\(new) has no report for \(missing.joined(separator: ", "))")
        }
        return try common.map { (try Report.load(path: b[$0]!), try Report.load(path: n[$0]!), b[$0]!, n[$0]!) }
    }
}
