extension LLMRouter {
    /// Decides where `r` goes and reserves what it needs there.
    mutating func route(_ r: LLMRequest, at now: Instant) -> LLMDecision {
        rateLimitHit = false
        let goal = TimeSpan.seconds(r.latencyTarget.seconds * config.targetShare)
        let first = routeModel(r, now)
        if first.reason.isServed && first.predictedLatency <= goal { return first.commit(&self, r, now) }
        // Within target on a smaller model beats late (or nothing) on this one.
        if r.allowSmallerModel, r.model.index < config.models.count, let smaller = config.models[r.model.index].fallback {
            var s = r
            s.model = smaller
            let second = routeModel(s, now)
            if second.reason.isServed && (second.predictedLatency <= goal || !first.reason.isServed) {
                var d = second.commit(&self, s, now)
                d.reason = .fallbackSmallerModel
                return d
            }
        }
        return first.commit(&self, r, now)
    }

    /// A routing choice not yet committed.
    struct Choice {
        var target: LLMTarget
        var model: ModelID
        var reason: LLMRouteReason
        var predictedLatency: TimeSpan
        var endpoint: (executor: Int, index: Int)?
        var cost: Int64 = 0

        func commit(_ router: inout LLMRouter, _ r: LLMRequest, _ now: Instant) -> LLMDecision {
            router.commit(self, r, now)
        }
    }

    /// The best place for the request's own model: local, peer, cloud — or a late local or
    /// peer endpoint when nothing meets the target, or a rejection.
    private mutating func routeModel(_ r: LLMRequest, _ now: Instant) -> Choice {
        if r.model.index < config.models.count,
           r.promptTokens + r.maxCompletionTokens > config.models[r.model.index].contextWindow {
            return Choice(target: .rejected, model: r.model, reason: .rejectedContext, predictedLatency: .zero)
        }
        let target = r.latencyTarget.seconds * config.targetShare
        var spill = LLMRouteReason.spillNoModel
        var late: Choice?
        // 1. The requester's own executor (skipped by the cloud-only baseline, except for
        // calls that may not leave it).
        let tryLocal = config.localFirst || r.localOnly
        if tryLocal, let k = endpointIndex(r.origin.index, r.model) {
            let ep = endpoints[r.origin.index][k]
            let (p, cold) = predict(r, ep, now)
            if !full(ep) {
                let c = Choice(target: .local(r.origin), model: r.model, reason: .local, predictedLatency: .seconds(p),
                               endpoint: (r.origin.index, k))
                if p <= target { return c }
                late = c
            }
            spill = !full(ep) && p - cold <= target ? .spillCold : .spillQueue
            if spill == .spillCold && ep.warmAt == .distantFuture {
                // Cold is a reason to go elsewhere now, and to load the model for next time.
                endpoints[r.origin.index][k].warmAt = now + ep.spec.loadTime
                warmUps.append((r.origin, r.model))
            }
        }
        // 2. A peer in the same site, then the same region.
        if tryLocal, let peer = bestPeer(r, now), peer.predictedLatency.seconds <= target || late == nil {
            if peer.predictedLatency.seconds <= target { return peer }
            late = late ?? peer
        }
        // Private calls stop here: late on an allowed machine, or nowhere.
        if r.localOnly {
            return late ?? Choice(target: .rejected, model: r.model, reason: .rejectedPrivacy, predictedLatency: .zero)
        }
        // 3. The clouds.
        switch cloud(r, now) {
        case .chosen(var c, let skippedDown):
            c.reason = skippedDown ? .fallbackProviderDown : spill
            if c.predictedLatency.seconds <= target || late == nil { return c }
            return c.predictedLatency < late!.predictedLatency ? c : late!
        case .none(let why):
            return late ?? Choice(target: .rejected, model: r.model, reason: why, predictedLatency: .zero)
        }
    }

    /// The peer with the earliest predicted completion among a few serving the model in the
    /// requester's site, then its region (a site peer that is too late does not stop the look
    /// in the region); for a private call, only the owner's machines. When no peer would be in
    /// time but a cold one would be once loaded, it is asked to load the model.
    private mutating func bestPeer(_ r: LLMRequest, _ now: Instant) -> Choice? {
        let o = r.origin.index
        guard o < serving.count else { return nil }
        var best: Choice?
        var coldButClose: (executor: Int, index: Int, p: Double)?
        let target = r.latencyTarget.seconds * config.targetShare
        func look(_ scope: DenseIndexSet?, _ delay: TimeSpan, _ router: inout LLMRouter) {
            guard let set = scope, !set.isEmpty else { return }
            let n = set.count
            var looked = 0
            var k = router.peerCursor % n
            while looked < min(n, router.config.peerCandidates * 4) {
                let e = Int(set.members[k])
                k = k + 1 == n ? 0 : k + 1
                looked += 1
                if e == o { continue }
                if r.localOnly && (router.owner[e] != r.tenant || r.tenant == .shared) { continue }
                guard let i = router.endpointIndex(e, r.model), !router.full(router.endpoints[e][i]) else { continue }
                let (total, cold) = router.predict(r, router.endpoints[e][i], now)
                let p = total + delay.seconds
                if best == nil || p < best!.predictedLatency.seconds {
                    best = Choice(target: .peer(ExecutorID(e)), model: r.model, reason: .peer,
                                  predictedLatency: .seconds(p), endpoint: (e, i))
                }
                if router.endpoints[e][i].warmAt == .distantFuture, p - cold <= target,
                   coldButClose == nil || p - cold < coldButClose!.p {
                    coldButClose = (e, i, p - cold)
                }
                if looked >= router.config.peerCandidates && best != nil { break }
            }
            router.peerCursor = k
        }
        look(bySite[Self.key(r.model, site[o])], config.peerDelaySameSite, &self)
        if best == nil || best!.predictedLatency.seconds > target {
            look(byRegion[Self.key(r.model, region[o])], config.peerDelaySameRegion, &self)
        }
        if best.map({ $0.predictedLatency.seconds > target }) ?? true, let c = coldButClose {
            endpoints[c.executor][c.index].warmAt = now + endpoints[c.executor][c.index].spec.loadTime
            warmUps.append((ExecutorID(c.executor), r.model))
        }
        return best
    }

    enum CloudResult {
        case chosen(Choice, skippedDown: Bool)
        case none(LLMRouteReason)
    }

    /// The cheapest provider predicted within the target (else the fastest), among those up,
    /// within their rate limits and within every budget.
    private mutating func cloud(_ r: LLMRequest, _ now: Instant) -> CloudResult {
        var best: (p: Int, cost: Int64, latency: Double)?
        var down = false, limited = false, broke = false
        var cheapestOverall: (p: Int, cost: Int64)?
        for p in config.providers.indices where config.providers[p].models.contains(r.model) {
            let spec = config.providers[p]
            let cost = spec.costMicroUSD(input: r.promptTokens, output: r.maxCompletionTokens)
            if cheapestOverall == nil || cost < cheapestOverall!.cost { cheapestOverall = (p, cost) }
            if providers[p].cooldownUntil > now { down = true; continue }
            purgeWindow(p, now)
            let tokens = r.promptTokens + r.maxCompletionTokens
            if let rpm = spec.requestsPerMinute, providers[p].requests + 1 > rpm {
                limited = true; rateLimitedSkips += 1; rateLimitHit = true; continue
            }
            if let tpm = spec.tokensPerMinute, providers[p].tokens + tokens > tpm {
                limited = true; rateLimitedSkips += 1; rateLimitHit = true; continue
            }
            if let cap = spec.budgetMicroUSD, providers[p].spent + providers[p].reserved + cost > cap { broke = true; continue }
            if let cap = tenantBudget(r.tenant), tenantSpent(r.tenant) + tenantReservedAmount(r.tenant) + cost > cap {
                broke = true
                continue
            }
            let latency = spec.timeToFirstToken.seconds + Double(r.expectedCompletionTokens) / max(spec.tokensPerSecond, 1e-9)
            let goal = r.latencyTarget.seconds * config.targetShare
            let meets = latency <= goal
            if let b = best {
                let bMeets = b.latency <= goal
                let better = meets != bMeets ? meets
                    : meets ? (cost, latency) < (b.cost, b.latency) : latency < b.latency
                if !better { continue }
            }
            best = (p, cost, latency)
        }
        guard let best else {
            return .none(broke ? .rejectedBudget : limited ? .rejectedRateLimit : .rejectedNoRoute)
        }
        let choice = Choice(target: .cloud(ProviderID(best.p)), model: r.model, reason: .spillNoModel,
                            predictedLatency: .seconds(best.latency), endpoint: nil, cost: best.cost)
        // Passed over a cheaper provider only because it was down.
        let skippedDown = down && (cheapestOverall.map { $0.p != best.p && $0.cost < best.cost } ?? false)
        return .chosen(choice, skippedDown: skippedDown)
    }

    func tenantBudget(_ t: TenantID) -> Int64? {
        t.index < config.tenantBudgetsMicroUSD.count ? config.tenantBudgetsMicroUSD[t.index] : nil
    }
    func tenantSpent(_ t: TenantID) -> Int64 { t.index < tenantSpent.count ? tenantSpent[t.index] : 0 }
    func tenantReservedAmount(_ t: TenantID) -> Int64 { t.index < tenantReserved.count ? tenantReserved[t.index] : 0 }

    /// Drops reservations older than a minute from the provider's window.
    mutating func purgeWindow(_ p: Int, _ now: Instant) {
        let horizon = now + TimeSpan(nanoseconds: -60_000_000_000)
        while providers[p].head < providers[p].window.count, providers[p].window[providers[p].head].at <= horizon {
            providers[p].requests -= 1
            providers[p].tokens -= providers[p].window[providers[p].head].tokens
            providers[p].head += 1
        }
        if providers[p].head > 1024 && providers[p].head * 2 > providers[p].window.count {
            providers[p].window.removeFirst(providers[p].head)
            providers[p].base += providers[p].head
            providers[p].head = 0
        }
    }
}

extension LLMRouteReason {
    /// True when the call is served somewhere (not rejected).
    var isServed: Bool { !rawValue.hasPrefix("rejected:") }
}
