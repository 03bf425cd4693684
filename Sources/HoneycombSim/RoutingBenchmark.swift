import HoneycombCore
import HoneycombStats

/// The LLM router's speed: a plane with `executors` executors serving a small model in 20
/// sites, two clouds, and a steady stream of calls from random executors, each completed a
/// while later so that local slots, peers and clouds all see use. Calls come at 0.1 a second
/// per executor (one a millisecond from 10,000), so the load per executor is the same at
/// every size.
public enum RoutingBenchmark {
    public struct Outcome: Sendable {
        public var decisions: Int
        public var local: Int, peer: Int, cloud: Int, rejected: Int
    }

    public static func run(executors: Int, steps: Int, measure: (() -> Void) -> Void) -> Outcome {
        let small = ModelID(0)
        let llm = LLMRouterConfig(
            models: [LLMModel(name: "small")],
            providers: [CloudProvider(name: "a", models: [small], inputPricePerMillion: 0.15, outputPricePerMillion: 0.6,
                                      requestsPerMinute: 100_000_000, tokensPerMinute: 1_000_000_000_000),
                        CloudProvider(name: "b", models: [small], inputPricePerMillion: 1, outputPricePerMillion: 3)])
        var plane = ControlPlane(config: PlaneConfig(llm: llm))
        var fx = PlaneEffects()
        for e in 0..<executors {
            let spec = ExecutorSpec(labels: LabelSet([Label("site", "s\(e % 20)"), Label("region", "r\(e % 4)")]),
                                    capacity: Resources(cpuMillis: 8000, memoryBytes: 1 << 34, slots: 4),
                                    localModels: [LocalModel(model: small, slots: 2, queueLimit: 1, tokensPerSecond: 60)])
            plane.handle(.executorRegistered(ExecutorID(e), spec), at: .zero, effects: &fx)
            fx.removeAll()
        }
        let stream = RandomStream(seed: 3)
        var inFlight: [(call: Int64, origin: ExecutorID)] = []
        var out = Outcome(decisions: 0, local: 0, peer: 0, cloud: 0, rejected: 0)
        var now = Instant.zero
        measure {
            for k in 0..<steps {
                now = now + TimeSpan(nanoseconds: 10_000_000_000 / Int64(executors))
                let origin = stream.integer(below: executors)
                let reply = plane.handle(.llmRouteRequested(LLMRequest(id: Int64(k), origin: ExecutorID(origin), model: small,
                                                                       promptTokens: 500, maxCompletionTokens: 400,
                                                                       expectedCompletionTokens: 100,
                                                                       latencyTarget: .seconds(4.0))),
                                         at: now, effects: &fx)
                if case .routed(let d) = reply {
                    out.decisions += 1
                    switch d.target {
                    case .local: out.local += 1
                    case .peer: out.peer += 1
                    case .cloud: out.cloud += 1
                    case .rejected: out.rejected += 1
                    }
                    if d.target != .rejected { inFlight.append((d.request, ExecutorID(origin))) }
                }
                fx.removeAll()
                // Keep about 2.9 calls per executor in flight, near the 3 (2 slots, 1 queued)
                // each can hold, so that peers and clouds are needed too: end a random one.
                if inFlight.count > executors * 29 / 10 {
                    let i = stream.integer(below: inFlight.count)
                    let (id, origin) = inFlight[i]
                    inFlight[i] = inFlight[inFlight.count - 1]
                    inFlight.removeLast()
                    plane.handle(.llmCompleted(id, .succeeded(inputTokens: 500, outputTokens: 100), reportedBy: origin),
                                 at: now, effects: &fx)
                    fx.removeAll()
                }
            }
        }
        return out
    }
}
