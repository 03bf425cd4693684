import Foundation

/// Why a report file could not be read.
public struct ReportReadError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

extension JSONValue {
    /// Parses JSON text.
    public static func parse(_ text: String) throws -> JSONValue {
        let any = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        return from(any)
    }

    private static func from(_ any: Any) -> JSONValue {
        switch any {
        case let s as String: return .string(s)
        case let n as NSNumber: return .number(n.doubleValue)
        case let a as [Any]: return .array(a.map(from))
        case let o as [String: Any]: return .object(o.mapValues(from))
        default: return .null
        }
    }

    subscript(key: String) -> JSONValue? { if case .object(let o) = self { o[key] } else { nil } }
    var number: Double? {
        switch self {
        case .number(let x): x
        case .null: .nan  // how canonical JSON writes NaN
        default: nil
        }
    }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}

extension Report {
    /// Reads a `report.json` written by `honeycomb simulate`.
    public static func load(path: String) throws -> Report {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ReportReadError(file: path, message: "cannot read the file")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(text) } catch {
            throw ReportReadError(file: path, message: "not JSON: \(error.localizedDescription)")
        }
        return try Report(json: json, file: path)
    }

    /// A report from its JSON form; `file` names it in errors.
    public init(json: JSONValue, file: String = "<report>") throws {
        func fail(_ m: String) -> ReportReadError { ReportReadError(file: file, message: m) }
        guard json["schema"]?.string == Report.schema else {
            throw fail("expected schema \(Report.schema), found \(json["schema"]?.string ?? "none")")
        }
        guard let s = json["scenario"], let name = s["name"]?.string, let seedText = s["seed"]?.string,
              let seed = UInt64(seedText), let seeds = s["replicationSeeds"]?.array?.compactMap({ $0.string.flatMap(UInt64.init) }),
              let duration = s["durationSeconds"]?.number, let warmup = s["warmupSeconds"]?.number else {
            throw fail("the scenario section is incomplete")
        }
        guard case .object(let metricFields)? = json["metrics"] else { throw fail("there is no metrics section") }
        var metrics: [MetricResult] = []
        for key in metricFields.keys.sorted() {
            let m = metricFields[key]!
            guard let unit = m["unit"]?.string, let dir = m["direction"]?.string.flatMap(Direction.init(rawValue:)),
                  let values = m["values"]?.array?.compactMap(\.number), values.count == seeds.count else {
                throw fail("metric \(key) is incomplete")
            }
            metrics.append(MetricResult(MetricDefinition(key, unit: unit, dir), values: values))
        }
        var run = RunDescription(scenario: name, scenarioFingerprint: s["fingerprint"]?.string ?? "",
                                 seed: seed, replicationSeeds: seeds, durationSeconds: duration, warmupSeconds: warmup)
        if let p = json["precision"], let target = p["target"]?.number, let cap = p["cap"]?.number {
            run.precision = PrecisionOutcome(target: target, metrics: p["metrics"]?.array?.compactMap(\.string) ?? [],
                                             met: p["met"] == .bool(true), cap: Int(cap))
        }
        run.warmupNote = json["warmupNote"]?.string
        self.init(run: run, metrics: metrics)
    }
}
