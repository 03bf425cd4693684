/// A model's identifier in the router's catalog.
public struct ModelID: DenseIdentifier {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static var kind: String { "model" }
}

/// A cloud provider's identifier in the router's configuration.
public struct ProviderID: DenseIdentifier {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static var kind: String { "provider" }
}

/// A model the fleet or a cloud can serve.
public struct LLMModel: Hashable, Sendable {
    public var name: String
    /// Higher is better; a fallback must have a lower tier.
    public var tier: Int
    public var contextWindow: Int
    /// The smaller model a request may fall back to when it allows it.
    public var fallback: ModelID?
    public init(name: String, tier: Int = 1, contextWindow: Int = 8192, fallback: ModelID? = nil) {
        self.name = name
        self.tier = tier
        self.contextWindow = contextWindow
        self.fallback = fallback
    }
}

/// A model an executor serves itself.
public struct LocalModel: Hashable, Sendable {
    public var model: ModelID
    /// Requests served at once.
    public var slots: Int
    /// Requests that may wait for a slot.
    public var queueLimit: Int
    /// Decode speed with nothing else running; prompts are read ten times as fast.
    public var tokensPerSecond: Double
    /// Time to load the model when it is cold.
    public var loadTime: TimeSpan
    /// How much each call served at once slows every call (batching): decode speed is
    /// tokensPerSecond / (1 + batchSlowdown × calls).
    public var batchSlowdown: Double
    public init(model: ModelID, slots: Int, queueLimit: Int = 0, tokensPerSecond: Double, loadTime: TimeSpan = .zero,
                batchSlowdown: Double = 0) {
        self.model = model
        self.slots = max(1, slots)
        self.queueLimit = max(0, queueLimit)
        self.tokensPerSecond = tokensPerSecond
        self.loadTime = loadTime
        self.batchSlowdown = max(0, batchSlowdown)
    }
}

/// A cloud provider: what it serves, at what price, within which limits.
public struct CloudProvider: Hashable, Sendable {
    public var name: String
    public var models: [ModelID]
    /// US dollars per million input and output tokens.
    public var inputPricePerMillion: Double
    public var outputPricePerMillion: Double
    /// Requests and tokens per minute it allows; nil for no limit.
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Typical time to first token, and decode speed, for predicting latency.
    public var timeToFirstToken: TimeSpan
    public var tokensPerSecond: Double
    /// Spending cap for this provider over the run, in micro-dollars; nil for none.
    public var budgetMicroUSD: Int64?

    public init(name: String, models: [ModelID], inputPricePerMillion: Double, outputPricePerMillion: Double,
                requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, timeToFirstToken: TimeSpan = .seconds(0.4),
                tokensPerSecond: Double = 80, budgetMicroUSD: Int64? = nil) {
        self.name = name
        self.models = models
        self.inputPricePerMillion = inputPricePerMillion
        self.outputPricePerMillion = outputPricePerMillion
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.timeToFirstToken = timeToFirstToken
        self.tokensPerSecond = tokensPerSecond
        self.budgetMicroUSD = budgetMicroUSD
    }

    /// The price of a request, in micro-dollars, rounded up so that budgets hold exactly.
    public func costMicroUSD(input: Int, output: Int) -> Int64 {
        // A price per million tokens in dollars is a price per token in micro-dollars.
        Int64((Double(input) * inputPricePerMillion + Double(output) * outputPricePerMillion).rounded(.up))
    }
}

/// The router's configuration: the catalog, the clouds, budgets and network delays.
public struct LLMRouterConfig: Hashable, Sendable {
    public var models: [LLMModel]
    public var providers: [CloudProvider]
    /// Spending cap per tenant (by `TenantID`) over the run, in micro-dollars; nil for none.
    public var tenantBudgetsMicroUSD: [Int64?]
    /// Network delay added to a peer in the requester's site, and in its region.
    public var peerDelaySameSite: TimeSpan
    public var peerDelaySameRegion: TimeSpan
    /// Consecutive failures that put a provider in cooldown, and for how long.
    public var failuresBeforeCooldown: Int
    public var cooldown: TimeSpan
    /// Peers considered per decision (from a rotating cursor).
    public var peerCandidates: Int
    /// Local-first (the default), or every call that may leave its executor straight to the
    /// clouds: the baseline local-first is measured against.
    public var localFirst: Bool
    /// The share of a call's latency target a prediction must fit in (1: all of it). Lower
    /// leaves room for the variance predictions do not see.
    public var targetShare: Double
    /// A routed call not reported ended this long after it was routed is abandoned (its
    /// executor forgot it), charged what it reserved. Nil: never (the simulator's calls
    /// always end).
    public var callTimeout: TimeSpan?

    public init(models: [LLMModel] = [], providers: [CloudProvider] = [], tenantBudgetsMicroUSD: [Int64?] = [],
                peerDelaySameSite: TimeSpan = .milliseconds(5), peerDelaySameRegion: TimeSpan = .milliseconds(30),
                failuresBeforeCooldown: Int = 3, cooldown: TimeSpan = .seconds(30.0), peerCandidates: Int = 16,
                localFirst: Bool = true, targetShare: Double = 1, callTimeout: TimeSpan? = nil) {
        self.callTimeout = callTimeout
        self.models = models
        self.providers = providers
        self.tenantBudgetsMicroUSD = tenantBudgetsMicroUSD
        self.peerDelaySameSite = peerDelaySameSite
        self.peerDelaySameRegion = peerDelaySameRegion
        self.failuresBeforeCooldown = max(1, failuresBeforeCooldown)
        self.cooldown = cooldown
        self.peerCandidates = max(1, peerCandidates)
        self.localFirst = localFirst
        self.targetShare = min(1, max(0.01, targetShare))
    }
}

/// One LLM call an agent wants to make.
public struct LLMRequest: Hashable, Sendable {
    public var id: Int64
    public var tenant: TenantID
    /// The executor the agent runs on.
    public var origin: ExecutorID
    public var model: ModelID
    public var promptTokens: Int
    /// The most it may generate: what is reserved against rate limits and budgets.
    public var maxCompletionTokens: Int
    /// What it is expected to generate: what latency is predicted from.
    public var expectedCompletionTokens: Int
    public var latencyTarget: TimeSpan
    /// Never leaves the origin or its owner's own machines.
    public var localOnly: Bool
    /// May be served by the model's smaller fallback.
    public var allowSmallerModel: Bool

    public init(id: Int64, tenant: TenantID = .shared, origin: ExecutorID, model: ModelID, promptTokens: Int,
                maxCompletionTokens: Int, expectedCompletionTokens: Int? = nil, latencyTarget: TimeSpan,
                localOnly: Bool = false, allowSmallerModel: Bool = false) {
        self.id = id
        self.tenant = tenant
        self.origin = origin
        self.model = model
        self.promptTokens = promptTokens
        self.maxCompletionTokens = maxCompletionTokens
        self.expectedCompletionTokens = min(expectedCompletionTokens ?? maxCompletionTokens, maxCompletionTokens)
        self.latencyTarget = latencyTarget
        self.localOnly = localOnly
        self.allowSmallerModel = allowSmallerModel
    }
}

/// Where a call goes.
public enum LLMTarget: Hashable, Sendable {
    case local(ExecutorID)
    case peer(ExecutorID)
    case cloud(ProviderID)
    case rejected
}

/// Why it goes there.
public enum LLMRouteReason: String, Hashable, Sendable, CaseIterable {
    case local
    case peer
    case spillQueue = "spill:queue"
    case spillCold = "spill:cold"
    case spillNoModel = "spill:no-model"
    case fallbackProviderDown = "fallback:provider-down"
    case fallbackSmallerModel = "fallback:smaller-model"
    case rejectedBudget = "rejected:budget"
    case rejectedRateLimit = "rejected:rate-limit"
    case rejectedPrivacy = "rejected:privacy"
    case rejectedNoRoute = "rejected:no-route"
    /// Prompt and completion do not fit the model's context window.
    case rejectedContext = "rejected:context-window"
}

/// The router's answer.
public struct LLMDecision: Hashable, Sendable {
    public var request: Int64
    public var target: LLMTarget
    /// The model that serves it (the fallback, after `fallback:smaller-model`).
    public var model: ModelID
    public var reason: LLMRouteReason
    public var predictedLatency: TimeSpan
    /// What was reserved against budgets, in micro-dollars (0 for local and peer).
    public var reservedMicroUSD: Int64
    /// Some provider was passed over for its rate limits while deciding.
    public var rateLimitHit: Bool
}

/// How a routed call ended, as its server reports it.
public enum LLMOutcome: Hashable, Sendable {
    case succeeded(inputTokens: Int, outputTokens: Int)
    /// It failed; a provider may say when to try again.
    case failed(retryAfter: TimeSpan?)
}
