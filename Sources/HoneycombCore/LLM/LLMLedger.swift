/// A routed LLM call as a store keeps it. Budgets, rate-limit windows and reservations are
/// the router's state, and money: a plane rebuilt from its store (after a failover, or a
/// failed write) must hold them as they were, or every rebuild would hand out each budget
/// and each minute's requests again.
public struct LLMCallRecord: Sendable, Equatable {
    public var id: Int64
    /// Where it went (never `.rejected`: rejections hold nothing).
    public var target: LLMTarget
    /// The executor that asked: the only one that may report its end.
    public var origin: ExecutorID
    public var model: ModelID
    public var tenant: TenantID
    public var routedAt: Instant
    /// Reserved against budgets until it ends, in micro-dollars (0 unless cloud).
    public var reservedMicroUSD: Int64
    /// The provider's prices when it was routed: what it is charged at.
    public var inputPricePerMillion: Double
    public var outputPricePerMillion: Double
    /// Tokens it holds in its provider's rate-limit window: what it reserved while open, what
    /// it used once ended.
    public var windowTokens: Int
    /// What it was charged, once ended; nil while open.
    public var costMicroUSD: Int64?

    public init(id: Int64, target: LLMTarget, origin: ExecutorID, model: ModelID, tenant: TenantID, routedAt: Instant,
                reservedMicroUSD: Int64, inputPricePerMillion: Double, outputPricePerMillion: Double, windowTokens: Int,
                costMicroUSD: Int64? = nil) {
        self.id = id
        self.target = target
        self.origin = origin
        self.model = model
        self.tenant = tenant
        self.routedAt = routedAt
        self.reservedMicroUSD = reservedMicroUSD
        self.inputPricePerMillion = inputPricePerMillion
        self.outputPricePerMillion = outputPricePerMillion
        self.windowTokens = windowTokens
        self.costMicroUSD = costMicroUSD
    }
}

/// What a store knows of the router's money and limits: everything charged so far, the calls
/// still open, and the cloud calls of the last minute (their rate-limit window).
public struct LLMLedger: Sendable {
    /// Open calls, and cloud calls routed within the last minute, any order.
    public var calls: [LLMCallRecord]
    /// Charged so far by ended calls, by provider and by tenant (indexed by their ids).
    public var spentByProvider: [Int64]
    public var spentByTenant: [Int64]

    public init(calls: [LLMCallRecord] = [], spentByProvider: [Int64] = [], spentByTenant: [Int64] = []) {
        self.calls = calls
        self.spentByProvider = spentByProvider
        self.spentByTenant = spentByTenant
    }
}

extension LLMRouter {
    /// The store's form of an open call.
    func record(of id: Int64, at now: Instant) -> LLMCallRecord? {
        guard let f = inFlight[id] else { return nil }
        return LLMCallRecord(id: id, target: f.target, origin: f.origin, model: f.model, tenant: f.tenant, routedAt: now,
                             reservedMicroUSD: f.reserved, inputPricePerMillion: f.inputPrice,
                             outputPricePerMillion: f.outputPrice, windowTokens: f.windowTokens)
    }

    /// Takes back a store's ledger into a fresh router whose executors are registered: what
    /// was spent, the last minute's window, and the open calls with what they hold.
    mutating func restore(_ ledger: LLMLedger, at now: Instant) {
        for (p, spent) in ledger.spentByProvider.enumerated() where p < providers.count { providers[p].spent = spent }
        for (t, spent) in ledger.spentByTenant.enumerated() {
            while tenantSpent.count <= t { tenantSpent.append(0); tenantReserved.append(0) }
            tenantSpent[t] = spent
        }
        let horizon = now - .minutes(1)
        for c in ledger.calls.sorted(by: { ($0.routedAt, $0.id) < ($1.routedAt, $1.id) }) {
            var flight = InFlight(target: c.target, origin: c.origin, model: c.model, tenant: c.tenant, generation: 0,
                                  inputPrice: c.inputPricePerMillion, outputPrice: c.outputPricePerMillion,
                                  reserved: c.costMicroUSD == nil ? c.reservedMicroUSD : 0, windowEntry: -1,
                                  windowTokens: c.windowTokens)
            switch c.target {
            case .cloud(let p):
                guard p.index < providers.count else { continue }
                if c.routedAt > horizon {
                    providers[p.index].window.append((c.routedAt, c.windowTokens))
                    providers[p.index].requests += 1
                    providers[p.index].tokens += c.windowTokens
                    flight.windowEntry = providers[p.index].base + providers[p.index].window.count - 1
                }
                guard c.costMicroUSD == nil else { continue }
                providers[p.index].reserved += c.reservedMicroUSD
                let t = c.tenant.index
                while tenantReserved.count <= t { tenantReserved.append(0); tenantSpent.append(0) }
                tenantReserved[t] += c.reservedMicroUSD
            case .local(let e), .peer(let e):
                guard c.costMicroUSD == nil else { continue }
                // It holds a slot (or a queue place) of the serving executor's present life.
                let i = e.index
                if let k = endpointIndex(i, c.model) {
                    flight.generation = generation[i]
                    if endpoints[i][k].active < endpoints[i][k].spec.slots { endpoints[i][k].active += 1 }
                    else { endpoints[i][k].queued += 1 }
                } else if i < generation.count {
                    flight.generation = generation[i] &- 1  // that life is gone: it holds nothing
                }
            case .rejected:
                continue
            }
            inFlight[c.id] = flight
            let o = c.origin.index
            if o >= callsFrom.count { callsFrom.append(contentsOf: repeatElement([], count: o + 1 - callsFrom.count)) }
            callsFrom[o].append(c.id)
        }
    }
}
