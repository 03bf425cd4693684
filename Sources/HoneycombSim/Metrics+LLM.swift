import HoneycombCore
import HoneycombReport
import HoneycombStats

extension SimMetrics {
    public static let llmRequests = MetricDefinition("llm.requests", unit: "count", .neutral)
    public static let llmLocal = MetricDefinition("llm.local_hit_ratio", unit: "ratio", .higherIsBetter)
    public static let llmPeer = MetricDefinition("llm.peer_ratio", unit: "ratio", .neutral)
    public static let llmCloud = MetricDefinition("llm.cloud_ratio", unit: "ratio", .neutral)
    public static let llmRejected = MetricDefinition("llm.rejected_ratio", unit: "ratio", .lowerIsBetter)
    public static let llmFailed = MetricDefinition("llm.failed", unit: "count", .lowerIsBetter)
    public static let llmSLO = MetricDefinition("llm.slo_attainment", unit: "ratio", .higherIsBetter)
    public static let llmCost = MetricDefinition("llm.cost.usd", unit: "usd", .lowerIsBetter)
    public static let llmSaved = MetricDefinition("llm.cost.saved_vs_cloud_only.usd", unit: "usd", .higherIsBetter)
    /// Calls for which some provider was passed over because of its rate limits.
    public static let llmRateLimited = MetricDefinition("llm.rate_limited", unit: "count", .lowerIsBetter)
    public static func llmReason(_ r: LLMRouteReason) -> MetricDefinition {
        MetricDefinition("llm.route.\(r.rawValue)", unit: "count", .neutral)
    }
    public static func llmTTFT(_ q: String) -> MetricDefinition { MetricDefinition("llm.ttft.\(q)", unit: "s", .lowerIsBetter) }
    public static func llmLatency(_ q: String) -> MetricDefinition { MetricDefinition("llm.latency.\(q)", unit: "s", .lowerIsBetter) }

    /// The LLM metrics, in report order.
    static var llmDefinitions: [MetricDefinition] {
        [llmRequests, llmLocal, llmPeer, llmCloud, llmRejected, llmFailed, llmSLO, llmCost, llmSaved, llmRateLimited]
            + LLMRouteReason.allCases.map(llmReason)
            + ["mean", "p50", "p95", "p99"].map(llmLatency) + ["p50", "p95", "p99"].map(llmTTFT)
    }
}

/// What the simulator measures of LLM calls: the cohort asked at or after the warm-up.
struct LLMCollector {
    var asked = 0, local = 0, peer = 0, cloud = 0, rejected = 0, failed = 0, withinSLO = 0
    var reasons = [Int](repeating: 0, count: LLMRouteReason.allCases.count)
    var ttft: [Double] = [], latency: [Double] = []
    var costMicroUSD: Int64 = 0, savedMicroUSD: Int64 = 0
    /// Calls for which some provider was passed over because of its rate limits.
    var rateLimited = 0

    func values() -> [(MetricDefinition, Double)] {
        var ttft = self.ttft, latency = self.latency
        Statistics.sort(&ttft)
        Statistics.sort(&latency)
        let n = Double(asked)
        func ratio(_ k: Int) -> Double { asked > 0 ? Double(k) / n : .nan }
        var out: [(MetricDefinition, Double)] = [
            (SimMetrics.llmRequests, n), (SimMetrics.llmLocal, ratio(local)), (SimMetrics.llmPeer, ratio(peer)),
            (SimMetrics.llmCloud, ratio(cloud)), (SimMetrics.llmRejected, ratio(rejected)),
            (SimMetrics.llmFailed, Double(failed)), (SimMetrics.llmSLO, ratio(withinSLO)),
            (SimMetrics.llmCost, Double(costMicroUSD) / 1e6), (SimMetrics.llmSaved, Double(savedMicroUSD) / 1e6),
            (SimMetrics.llmRateLimited, Double(rateLimited)),
        ]
        out += LLMRouteReason.allCases.enumerated().map { (SimMetrics.llmReason($1), Double(reasons[$0])) }
        out.append((SimMetrics.llmLatency("mean"), Statistics.mean(latency)))
        for (q, p) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            out.append((SimMetrics.llmLatency(q), Statistics.quantile(sorted: latency, p)))
        }
        for (q, p) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            out.append((SimMetrics.llmTTFT(q), Statistics.quantile(sorted: ttft, p)))
        }
        return out
    }
}

extension MetricsCollector {
    mutating func llmAsked(at t: Instant) { if t >= warmup { llm?.asked += 1 } }

    mutating func llmRouted(_ d: LLMDecision, askedAt t: Instant) {
        switch d.target {
        case .local: windowRouted.local += 1
        case .peer: windowRouted.peer += 1
        case .cloud: windowRouted.cloud += 1
        case .rejected: break
        }
        guard t >= warmup, llm != nil else { return }
        llm!.reasons[LLMRouteReason.allCases.firstIndex(of: d.reason)!] += 1
        if d.rateLimitHit { llm!.rateLimited += 1 }
        switch d.target {
        case .local: llm!.local += 1
        case .peer: llm!.peer += 1
        case .cloud: llm!.cloud += 1
        case .rejected: llm!.rejected += 1
        }
    }

    /// A call ended, costing `cost` micro-dollars; `cloudEquivalent` prices it on the
    /// cheapest cloud (asked only for calls served locally).
    mutating func llmDone(_ call: LLMCall, slo: TimeSpan, at t: Instant, cost: Int64, cloudEquivalent: () -> Int64) {
        guard call.asked >= warmup, llm != nil else { return }
        llm!.costMicroUSD += cost
        if call.failed {
            llm!.failed += 1
            return
        }
        let latency = t - call.asked
        llm!.latency.append(latency.seconds)
        llm!.ttft.append((call.firstToken - call.asked).seconds)
        if latency <= slo { llm!.withinSLO += 1 }
        switch call.target {
        case .local, .peer: llm!.savedMicroUSD += cloudEquivalent()
        default: break
        }
    }

}
