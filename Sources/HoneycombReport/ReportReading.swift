import Foundation

/// Why a report file could not be read.
public struct ReportReadError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var message: String
    public var description: String { "\(file): \(message)" }
}

extension JSONValue {
    /// Parses JSON text. Numbers go through `Double(String)`, which reads back exactly what
    /// the canonical writer wrote, so a report survives a round trip byte for byte.
    public static func parse(_ text: String) throws -> JSONValue {
        var p = JSONParser(bytes: Array(text.utf8))
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.error("unexpected text after the value") }
        return v
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
            throw ReportReadError(file: path, message: "not JSON: \(error)")
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

/// A small strict JSON reader (RFC 8259).
private struct JSONParser {
    let bytes: [UInt8]
    var i = 0

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func error(_ m: String) -> Failure { Failure(description: "\(m) at byte \(i)") }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    mutating func literal(_ word: String, _ v: JSONValue) throws -> JSONValue {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { throw error("expected \(word)") }
        i += w.count
        return v
    }

    mutating func value() throws -> JSONValue {
        guard i < bytes.count else { throw error("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var o: [String: JSONValue] = [:]
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                skipSpace()
                guard case .string(let key) = try value() else { throw error("expected a key") }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                i += 1
                skipSpace()
                o[key] = try value()
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
                i += 1
                return .object(o)
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                skipSpace()
                a.append(try value())
                skipSpace()
                guard i < bytes.count else { throw error("unexpected end") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
                i += 1
                return .array(a)
            }
        case UInt8(ascii: "\""):
            i += 1
            var out = [UInt8]()
            while true {
                guard i < bytes.count else { throw error("unterminated string") }
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { break }
                guard c == UInt8(ascii: "\\") else { out.append(c); continue }
                guard i < bytes.count else { throw error("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16)
                    else { throw error("bad \\u escape") }
                    i += 4
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(code) ?? "?")).utf8))
                default: out.append(e)
                }
            }
            return .string(String(decoding: out, as: UTF8.self))
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default:
            let start = i
            while i < bytes.count, "+-0123456789.eE".utf8.contains(bytes[i]) { i += 1 }
            guard let x = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else { throw error("expected a value") }
            return .number(x)
        }
    }
}
