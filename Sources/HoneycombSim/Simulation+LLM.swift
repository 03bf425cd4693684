import HoneycombCore

extension Simulation {
    /// The plane routed an LLM call (LLM load is simulated from issue 4's scenario keys on).
    mutating func llmRouted(_ decision: LLMDecision) {}

    /// A routed call was settled.
    mutating func llmSettled(_ id: Int64, costMicroUSD: Int64) {}
}
