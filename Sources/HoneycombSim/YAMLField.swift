import Yams
import HoneycombStats

/// A node of a scenario document with the path that led to it, so that every error can say
/// where it is.
struct YAMLField {
    let node: Node
    let path: String
    let file: String

    func error(_ message: String) -> ScenarioError {
        ScenarioError(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0,
                      path: path, message: message)
    }

    /// What the node looks like, for "got ..." in messages.
    var shown: String {
        switch node {
        case .scalar(let s): s.string.isEmpty ? "nothing" : "'\(s.string)'"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }

    func child(_ key: String, _ node: Node) -> YAMLField {
        YAMLField(node: node, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    /// The node as a mapping whose keys are all among `allowed`.
    func mapping(allowed: [String]) throws -> YAMLMapping {
        guard case .mapping(let m) = node else {
            throw error("expected a mapping with keys \(allowed.joined(separator: ", ")), got \(shown)")
        }
        var entries: [(String, YAMLField)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                throw YAMLField(node: k, path: path, file: file).error("expected a plain key")
            }
            let key = ks.string
            let field = child(key, v)
            guard allowed.contains(key) else {
                let keyField = YAMLField(node: k, path: field.path, file: file)
                var message = "unknown key '\(key)'"
                if let near = closest(key, in: allowed) { message += " (did you mean '\(near)'?)" }
                message += "; expected one of: \(allowed.joined(separator: ", "))"
                throw keyField.error(message)
            }
            if entries.contains(where: { $0.0 == key }) {
                throw YAMLField(node: k, path: field.path, file: file).error("key '\(key)' appears twice")
            }
            entries.append((key, field))
        }
        return YAMLMapping(field: self, entries: entries)
    }

    /// The node as a list.
    func list() throws -> [YAMLField] {
        guard case .sequence(let s) = node else { throw error("expected a list, got \(shown)") }
        return s.enumerated().map { YAMLField(node: $0.element, path: "\(path)[\($0.offset)]", file: file) }
    }

    func string() throws -> String {
        guard case .scalar(let s) = node, !s.string.isEmpty else { throw error("expected text, got \(shown)") }
        return s.string
    }

    func int(min: Int = .min, max: Int = .max) throws -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string.replacingUnderscores()) else {
            throw error("expected a whole number, got \(shown)")
        }
        guard v >= min, v <= max else { throw error("expected a whole number in \(min)...\(max), got \(v)") }
        return v
    }

    func double(min: Double = -.infinity, max: Double = .infinity) throws -> Double {
        guard case .scalar(let s) = node, let v = Double(s.string.replacingUnderscores()), v.isFinite else {
            throw error("expected a number, got \(shown)")
        }
        guard v >= min, v <= max else { throw error("expected a number in [\(min), \(max)], got \(v)") }
        return v
    }

    func probability() throws -> Double { try double(min: 0, max: 1) }

    func bool() throws -> Bool {
        guard case .scalar(let s) = node, let v = ["true": true, "false": false, "yes": true, "no": false][s.string] else {
            throw error("expected true or false, got \(shown)")
        }
        return v
    }

    /// A duration with a unit (`30s`, `45m`, `2h`), in seconds.
    func seconds(allowZero: Bool = true) throws -> Double {
        guard case .scalar(let s) = node, let v = Units.seconds(s.string) else {
            throw error("expected a duration with a unit such as 500ms, 30s, 45m, 2h or 1d, got \(shown)")
        }
        guard v <= Distribution.maximumSeconds else { throw error("expected a duration of at most 31 years, got \(shown)") }
        guard v > 0 || (allowZero && v == 0) else {
            throw error(allowZero ? "expected a duration of at least 0s, got \(shown)" : "expected a duration above 0s, got \(shown)")
        }
        return v
    }

    /// A rate with a unit (`5/s`, `300/m`, `10/h`), per second.
    func rate() throws -> Double {
        guard case .scalar(let s) = node, let v = Units.perSecond(s.string) else {
            throw error("expected a rate such as 5/s, 300/m or 10/h, got \(shown)")
        }
        guard v > 0 else { throw error("expected a rate above zero, got \(shown)") }
        guard v <= Units.maxRatePerSecond else { throw error("expected a rate of at most 1000000/s, got \(shown)") }
        return v
    }

    func bytes() throws -> Int64 {
        guard case .scalar(let s) = node, let v = Units.bytes(s.string) else {
            throw error("expected a size such as 512MiB or 16GiB (at most 1PiB), got \(shown)")
        }
        return v
    }

    func millicores() throws -> Int64 {
        guard case .scalar(let s) = node, let v = Units.millicores(s.string) else {
            throw error("expected a CPU amount in cores (2, 0.5) or millicores (500m), at most 1000000 cores, got \(shown)")
        }
        return v
    }

    /// A distribution of durations, in seconds: a plain duration (constant) or a one-key
    /// mapping naming the family.
    func durationDistribution() throws -> Distribution {
        let d = try anyDistribution(.duration)
        guard d.mean.isNaN == false else { throw error("this distribution has no mean") }
        return d
    }

    /// A duration distribution whose mean is above zero (and may be infinite), for times
    /// that must move the clock on: uptimes, downtimes, burst spacing.
    func positiveDurationDistribution() throws -> Distribution {
        let d = try durationDistribution()
        guard d.mean > 0 else { throw error("expected a distribution with a mean above 0s, got \(d)") }
        return d
    }

    /// A distribution of plain numbers (token counts): a number (constant) or a family.
    func countDistribution() throws -> Distribution {
        let d = try anyDistribution(.count)
        guard d.mean.isFinite else { throw error("expected a distribution with a finite mean, got \(d)") }
        return d
    }

    /// What a distribution's values are.
    enum Quantity { case duration, count }

    private func value(_ q: Quantity, allowZero: Bool = true) throws -> Double {
        switch q {
        case .duration: return try seconds(allowZero: allowZero)
        case .count:
            let v = try double(min: 0, max: 1e9)
            guard v > 0 || allowZero else { throw error("expected a number above 0, got \(shown)") }
            return v
        }
    }

    private func anyDistribution(_ q: Quantity) throws -> Distribution {
        if case .scalar = node { return .constant(try value(q)) }
        let families = ["constant", "exponential", "lognormal", "gamma", "weibull", "pareto", "uniform", "empirical"]
        let m = try mapping(allowed: families)
        guard m.entries.count == 1, let (family, p) = m.entries.first else {
            throw error("expected exactly one distribution, one of: \(families.joined(separator: ", "))")
        }
        switch family {
        case "constant":
            return .constant(try p.value(q))
        case "exponential":
            return .exponential(mean: try p.mapping(allowed: ["mean"]).required("mean").value(q, allowZero: false))
        case "lognormal":
            let m = try p.mapping(allowed: ["median", "sigma"])
            return .lognormal(median: try m.required("median").value(q, allowZero: false),
                              sigma: try m.required("sigma").double(min: 0, max: 10))
        case "gamma":
            let m = try p.mapping(allowed: ["shape", "scale", "mean"])
            let shape = try m.required("shape").double(min: 1e-9)
            if let mean = m.optional("mean") {
                if m.optional("scale") != nil { throw p.error("give either scale or mean, not both") }
                return .gamma(shape: shape, scale: try mean.value(q, allowZero: false) / shape)
            }
            return .gamma(shape: shape, scale: try m.required("scale", or: "mean").value(q, allowZero: false))
        case "weibull":
            let m = try p.mapping(allowed: ["shape", "scale"])
            return .weibull(shape: try m.required("shape").double(min: 1e-9),
                            scale: try m.required("scale").value(q, allowZero: false))
        case "pareto":
            let m = try p.mapping(allowed: ["shape", "minimum"])
            return .pareto(shape: try m.required("shape").double(min: 1e-9),
                           minimum: try m.required("minimum").value(q, allowZero: false))
        case "uniform":
            let m = try p.mapping(allowed: ["min", "max"])
            let low = try m.required("min").value(q)
            let high = try m.required("max").value(q)
            guard high >= low else { throw try m.required("max").error("expected max ≥ min") }
            return .uniform(low: low, high: high)
        default:
            let values = try p.list().map { try $0.value(q) }
            guard !values.isEmpty else { throw p.error("expected at least one value") }
            return .empirical(values)
        }
    }
}

/// A mapping whose keys were checked; fields are looked up by key.
struct YAMLMapping {
    let field: YAMLField
    let entries: [(String, YAMLField)]

    func optional(_ key: String) -> YAMLField? { entries.first { $0.0 == key }?.1 }

    func required(_ key: String, or alternative: String? = nil) throws -> YAMLField {
        if let f = optional(key) { return f }
        let also = alternative.map { " (or '\($0)')" } ?? ""
        throw field.error("missing required key '\(key)'\(also)")
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }
}

/// The allowed word nearest to `word` by edit distance, when it is near enough to be a typo.
public func closest(_ word: String, in candidates: [String]) -> String? {
    func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
    if word.count >= 3, let prefixed = candidates.first(where: { $0.lowercased().hasPrefix(word.lowercased()) }) {
        return prefixed
    }
    let scored = candidates.map { ($0, distance(word, $0)) }.min { $0.1 < $1.1 }
    guard let (best, d) = scored, d <= max(2, word.count / 3) else { return nil }
    return best
}
