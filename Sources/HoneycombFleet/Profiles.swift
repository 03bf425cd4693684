import Foundation
import HoneycombAPI
import HoneycombStats

/// An agent version's profile, as the reference executor reads it: how long a task runs (a
/// distribution in seconds, the simulator's own), how often it fails, and the LLM call it makes.
///
///     {"runtime": {"lognormal": {"median": 30, "sigma": 0.8}}, "failure": 0.01,
///      "llm": {"model": "small", "promptTokens": 500, "maxCompletionTokens": 200}}
///
/// The older form `{"runtimeMs": 20, "distribution": "fixed" | "exponential"}` is read too.
struct AgentProfile {
    var runtime: Distribution
    var failure: Double
    var llm: [String: Any]?

    init(json text: String?) {
        let object = (text.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }) ?? [:]
        if let spec = object["runtime"], let d = Distribution(json: spec) {
            runtime = d
        } else {
            let mean = ((object["runtimeMs"] as? Double) ?? 10) / 1000
            runtime = object["distribution"] as? String == "fixed" ? .constant(mean) : .exponential(mean: mean)
        }
        failure = (object["failure"] as? Double) ?? 0
        llm = object["llm"] as? [String: Any]
    }
}

extension Distribution {
    /// The profile's JSON form of this distribution (seconds).
    var json: JSONValue {
        func o(_ kind: String, _ fields: [String: Double]) -> JSONValue {
            .object([kind: .object(fields.mapValues { .number($0) })])
        }
        return switch self {
        case .constant(let v): .object(["constant": .number(v)])
        case .exponential(let mean): o("exponential", ["mean": mean])
        case .lognormal(let median, let sigma): o("lognormal", ["median": median, "sigma": sigma])
        case .gamma(let shape, let scale): o("gamma", ["shape": shape, "scale": scale])
        case .weibull(let shape, let scale): o("weibull", ["shape": shape, "scale": scale])
        case .pareto(let shape, let minimum): o("pareto", ["shape": shape, "minimum": minimum])
        case .uniform(let low, let high): o("uniform", ["low": low, "high": high])
        case .empirical(let values): .object(["empirical": .array(values.map { .number($0) })])
        }
    }

    /// Reads the JSON form back; nil for anything else.
    init?(json: Any) {
        guard let o = json as? [String: Any], o.count == 1, let (kind, body) = o.first else { return nil }
        let f = body as? [String: Any] ?? [:]
        func n(_ k: String) -> Double? { f[k] as? Double }
        switch kind {
        case "constant": guard let v = body as? Double else { return nil }; self = .constant(v)
        case "exponential": guard let m = n("mean") else { return nil }; self = .exponential(mean: m)
        case "lognormal": guard let m = n("median"), let s = n("sigma") else { return nil }; self = .lognormal(median: m, sigma: s)
        case "gamma": guard let k = n("shape"), let s = n("scale") else { return nil }; self = .gamma(shape: k, scale: s)
        case "weibull": guard let k = n("shape"), let s = n("scale") else { return nil }; self = .weibull(shape: k, scale: s)
        case "pareto": guard let k = n("shape"), let m = n("minimum") else { return nil }; self = .pareto(shape: k, minimum: m)
        case "uniform": guard let a = n("low"), let b = n("high") else { return nil }; self = .uniform(low: a, high: b)
        case "empirical": guard let v = body as? [Double], !v.isEmpty else { return nil }; self = .empirical(v)
        default: return nil
        }
    }

    /// The same shape with every duration divided by `k` (a run `k` times faster).
    func faster(_ k: Double) -> Distribution {
        switch self {
        case .constant(let v): .constant(v / k)
        case .exponential(let mean): .exponential(mean: mean / k)
        case .lognormal(let median, let sigma): .lognormal(median: median / k, sigma: sigma)
        case .gamma(let shape, let scale): .gamma(shape: shape, scale: scale / k)
        case .weibull(let shape, let scale): .weibull(shape: shape, scale: scale / k)
        case .pareto(let shape, let minimum): .pareto(shape: shape, minimum: minimum / k)
        case .uniform(let low, let high): .uniform(low: low / k, high: high / k)
        case .empirical(let values): .empirical(values.map { $0 / k })
        }
    }
}

/// A GSL stream shared by one executor's tasks (they run concurrently), behind a lock.
final class SharedStream: @unchecked Sendable {
    // @unchecked: the stream is used only under `lock`.
    private let lock = NSLock()
    private let stream: RandomStream

    init(seed: UInt64) { stream = RandomStream(seed: seed) }

    func sample(_ d: Distribution) -> Double { lock.withLock { d.sampleSeconds(stream) } }
    func uniform() -> Double { lock.withLock { stream.uniform() } }
}
