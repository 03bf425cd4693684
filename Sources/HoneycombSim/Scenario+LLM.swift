import HoneycombCore
import HoneycombStats

extension Scenario {
    /// LLM load and serving, present when any agent calls an LLM.
    public struct LLM: Sendable {
        /// Catalog, clouds, budgets and router settings, as the plane sees them.
        public var router: LLMRouterConfig
        /// What the simulator needs beyond the plane's view of each cloud.
        public var clouds: [Cloud]
    }

    /// A cloud provider's behaviour in the world: how long it takes and how often it fails.
    public struct Cloud: Sendable {
        /// Time to first token, in seconds.
        public var timeToFirstToken: Distribution
        public var tokensPerSecond: Double
        /// The chance a call fails outright.
        public var failure: Double
    }

    /// The models an executor pool serves itself.
    public struct PoolLLM: Sendable {
        public var models: [ModelID]
        public var slots: Int
        public var queue: Int
        public var tokensPerSecond: Double
        public var loadTime: TimeSpan
        /// Each extra call served at once slows every call by this fraction (batching).
        public var batchSlowdown: Double
    }

    /// The LLM calls one task of an agent makes.
    public struct AgentLLM: Sendable {
        public var model: ModelID
        /// Calls per task, spread evenly over its run.
        public var calls: Int
        public var promptTokens: Distribution
        public var completionTokens: Distribution
        /// The most a call may generate: reserved against limits and budgets.
        public var maxCompletionTokens: Int
        public var latencyTarget: TimeSpan
        public var localOnly: Bool
        public var allowSmallerModel: Bool
    }
}
