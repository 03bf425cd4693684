/// Local-first routing of LLM calls: the requester's own model, then a peer in its site or
/// region, then a cloud provider — decided before anything fails, from predicted completion
/// times, capacity, rate limits, budgets and provider health.
///
/// Deterministic and I/O-free like the rest of the plane: it knows only what it routed and
/// what was reported back.
struct LLMRouter {
    var config: LLMRouterConfig

    /// One model an executor serves, with what the router has sent it.
    struct Endpoint {
        var spec: LocalModel
        var active = 0
        var queued = 0
        /// When the model is (or will be) loaded; `distantFuture` while cold and not loading.
        var warmAt = Instant.distantFuture
    }

    /// Per executor: its endpoints, owner, site and region (interned), and whether it serves now.
    var endpoints: [[Endpoint]] = []
    var owner: [TenantID] = []
    var site: [Int32] = []
    var region: [Int32] = []
    var serving: [Bool] = []
    /// Bumped at each registration: in-flight calls of an earlier life do not free this life's slots.
    var generation: [UInt32] = []
    private var places: [String: Int32] = [:]
    /// Executors serving each model, by (model, site) and (model, region).
    var bySite: [Int64: DenseIndexSet] = [:]
    var byRegion: [Int64: DenseIndexSet] = [:]
    var peerCursor = 0

    struct ProviderState {
        /// Reservations in the last minute, oldest first: (when, tokens), `head` the first live one.
        var window: [(at: Instant, tokens: Int)] = []
        var head = 0
        /// Absolute index of `window[0]` (entries before `head` are compacted away).
        var base = 0
        var requests = 0
        var tokens = 0
        var failures = 0
        var cooldownUntil = Instant.zero
        var spent: Int64 = 0
        var reserved: Int64 = 0
    }
    var providers: [ProviderState]
    var tenantSpent: [Int64] = []
    var tenantReserved: [Int64] = []

    struct InFlight {
        var target: LLMTarget
        /// The executor that asked: the only one that may report its end.
        var origin: ExecutorID
        var model: ModelID
        var tenant: TenantID
        /// The serving executor's generation when the call was routed (local and peer).
        var generation: UInt32
        /// The provider's prices when the call was routed: what it is charged at.
        var inputPrice: Double
        var outputPrice: Double
        var reserved: Int64
        /// Absolute index of its rate-limit window entry (cloud), and the tokens it holds.
        var windowEntry: Int
        var windowTokens: Int
    }
    var inFlight: [Int64: InFlight] = [:]
    /// Open calls per asking executor, oldest first: what is abandoned when it goes.
    var callsFrom: [[Int64]] = []
    /// Times a provider was passed over because of its rate limits.
    var rateLimitedSkips = 0
    /// Set while routing one call when some provider was passed over for its limits.
    var rateLimitHit = false
    /// Calls whose reported use cost more than was reserved (the provider charged it anyway).
    var overruns = 0
    /// Calls settled or abandoned, with what each was charged and the tokens it keeps in its
    /// window (drained by the plane into `llmCallEnded` effects, for the store).
    var ended: [(id: Int64, cost: Int64, windowTokens: Int)] = []
    /// Models to load ahead of demand, found while routing (drained by the plane).
    var warmUps: [(ExecutorID, ModelID)] = []

    init(config: LLMRouterConfig) {
        self.config = config
        providers = Array(repeating: ProviderState(), count: config.providers.count)
    }

    private mutating func place(_ value: String?) -> Int32 {
        guard let value else { return -1 }
        if let k = places[value] { return k }
        let k = Int32(places.count)
        places[value] = k
        return k
    }

    static func key(_ model: ModelID, _ place: Int32) -> Int64 { Int64(model.rawValue) << 32 | Int64(place) }

    // MARK: executors

    mutating func executorRegistered(_ e: ExecutorID, _ spec: ExecutorSpec) {
        executorGone(e)
        let i = e.index
        while endpoints.count <= i {
            endpoints.append([]); owner.append(.shared); site.append(-1); region.append(-1); serving.append(false)
            generation.append(0)
        }
        // Calls routed to an earlier life are not this life's load.
        generation[i] &+= 1
        endpoints[i] = spec.localModels.map { Endpoint(spec: $0) }
        owner[i] = spec.owner
        site[i] = place(spec.labels["site"])
        region[i] = place(spec.labels["region"])
        executorServes(e, peers: true)
    }

    /// It serves its own calls again, and (with `peers`) its site's and region's.
    mutating func executorServes(_ e: ExecutorID, peers: Bool) {
        let i = e.index
        guard i < serving.count else { return }
        serving[i] = true
        guard peers else { return }
        for ep in endpoints[i] {
            if site[i] >= 0 { bySite[Self.key(ep.spec.model, site[i]), default: DenseIndexSet()].insert(i) }
            if region[i] >= 0 { byRegion[Self.key(ep.spec.model, region[i]), default: DenseIndexSet()].insert(i) }
        }
    }

    /// It drains: it still serves its own remaining tasks' calls, but no peer's.
    mutating func executorDraining(_ e: ExecutorID) {
        let i = e.index
        guard i < serving.count else { return }
        for ep in endpoints[i] {
            if site[i] >= 0 { bySite[Self.key(ep.spec.model, site[i])]?.remove(i) }
            if region[i] >= 0 { byRegion[Self.key(ep.spec.model, region[i])]?.remove(i) }
        }
    }

    /// The executor left or was lost: it serves no new calls. (What it was serving is
    /// reported back by the driver, or lost with it.)
    mutating func executorGone(_ e: ExecutorID) {
        let i = e.index
        guard i < serving.count, serving[i] else { return }
        serving[i] = false
        executorDraining(e)
    }

    // MARK: prediction

    /// Seconds to serve the request on an endpoint once it has a slot: decode the expected
    /// completion, read the prompt ten times as fast.
    func serviceSeconds(_ r: LLMRequest, _ tps: Double) -> Double {
        (Double(r.expectedCompletionTokens) + Double(r.promptTokens) / 10) / max(tps, 1e-9)
    }

    func full(_ ep: Endpoint) -> Bool { ep.active >= ep.spec.slots && ep.queued >= ep.spec.queueLimit }

    /// Predicted completion on an endpoint: queueing, cold start, service; and the cold part.
    func predict(_ r: LLMRequest, _ ep: Endpoint, _ now: Instant) -> (total: Double, cold: Double) {
        // It will share the model with the calls running when it starts (itself included).
        let sharing = Double(min(ep.active + 1, ep.spec.slots))
        let s = serviceSeconds(r, ep.spec.tokensPerSecond / (1 + ep.spec.batchSlowdown * sharing))
        let wait = ep.active < ep.spec.slots ? 0 : Double(ep.queued + 1) * s / Double(ep.spec.slots)
        let cold = ep.warmAt == .distantFuture ? ep.spec.loadTime.seconds : max(0, (ep.warmAt - now).seconds)
        return (wait + cold + s, cold)
    }

    func endpointIndex(_ e: Int, _ model: ModelID) -> Int? {
        guard e < serving.count, serving[e] else { return nil }
        return endpoints[e].firstIndex { $0.spec.model == model }
    }
}
