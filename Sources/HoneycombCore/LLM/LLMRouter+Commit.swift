extension LLMRouter {
    /// Takes what the choice needs (a slot or queue place; rate-limit room and budget) and
    /// records the call as in flight.
    mutating func commit(_ c: Choice, _ r: LLMRequest, _ now: Instant) -> LLMDecision {
        var flight = InFlight(target: c.target, origin: r.origin, model: c.model, tenant: r.tenant, generation: 0, inputPrice: 0,
                              outputPrice: 0, reserved: 0, windowEntry: -1, windowTokens: 0)
        switch c.target {
        case .local, .peer:
            let (e, i) = c.endpoint!
            flight.generation = generation[e]
            if endpoints[e][i].active < endpoints[e][i].spec.slots { endpoints[e][i].active += 1 } else { endpoints[e][i].queued += 1 }
            if endpoints[e][i].warmAt == .distantFuture { endpoints[e][i].warmAt = now + endpoints[e][i].spec.loadTime }
        case .cloud(let p):
            let tokens = r.promptTokens + r.maxCompletionTokens
            providers[p.index].window.append((now, tokens))
            providers[p.index].requests += 1
            providers[p.index].tokens += tokens
            providers[p.index].reserved += c.cost
            flight.windowEntry = providers[p.index].base + providers[p.index].window.count - 1
            flight.windowTokens = tokens
            flight.reserved = c.cost
            flight.inputPrice = config.providers[p.index].inputPricePerMillion
            flight.outputPrice = config.providers[p.index].outputPricePerMillion
            let t = r.tenant.index
            while tenantReserved.count <= t { tenantReserved.append(0); tenantSpent.append(0) }
            tenantReserved[t] += c.cost
        case .rejected:
            return LLMDecision(request: r.id, target: .rejected, model: c.model, reason: c.reason,
                               predictedLatency: .zero, reservedMicroUSD: 0, rateLimitHit: rateLimitHit)
        }
        inFlight[r.id] = flight
        let o = r.origin.index
        if o >= callsFrom.count { callsFrom.append(contentsOf: repeatElement([], count: o + 1 - callsFrom.count)) }
        callsFrom[o].append(r.id)
        return LLMDecision(request: r.id, target: c.target, model: c.model, reason: c.reason,
                           predictedLatency: c.predictedLatency, reservedMicroUSD: c.cost, rateLimitHit: rateLimitHit)
    }

    /// A routed call ended, as `reporter` says: free its slot, settle its cost (what it really
    /// used; nothing if it failed), return unused tokens to the rate-limit window, and keep
    /// provider health. Returns the cost charged, in micro-dollars, or nil for a call the
    /// router does not know as one of `reporter`'s.
    mutating func complete(_ id: Int64, _ outcome: LLMOutcome, reportedBy reporter: ExecutorID, at now: Instant) -> Int64? {
        guard let f = inFlight[id], f.origin == reporter else { return nil }
        return settle(id, outcome, at: now)
    }

    /// Gives up an open call whose end will never be reported, charging what it reserved:
    /// the most it could have cost, so budgets hold whatever it used; provider health is
    /// untouched (the provider did nothing wrong). Nil for a call no longer open.
    mutating func abandon(_ id: Int64) -> Int64? {
        guard inFlight[id] != nil else { return nil }
        return settle(id, nil, at: .zero)
    }

    /// Abandons every open call `e` asked for, oldest first, with what each was charged.
    mutating func abandonCalls(from e: ExecutorID) -> [(call: Int64, cost: Int64)] {
        guard e.index < callsFrom.count, !callsFrom[e.index].isEmpty else { return [] }
        return callsFrom[e.index].compactMap { id in abandon(id).map { (id, $0) } }
    }

    /// Settles a call: with its outcome, or abandoned (`nil`).
    private mutating func settle(_ id: Int64, _ outcome: LLMOutcome?, at now: Instant) -> Int64 {
        let f = inFlight.removeValue(forKey: id)!
        let calls = callsFrom[f.origin.index]
        callsFrom[f.origin.index].remove(at: calls.firstIndex(of: id)!)
        switch f.target {
        case .local(let e), .peer(let e):
            let i = e.index
            // A call of an earlier life of the executor holds nothing in this one.
            if f.generation == generation[i], let k = endpoints[i].firstIndex(where: { $0.spec.model == f.model }) {
                if endpoints[i][k].queued > 0 { endpoints[i][k].queued -= 1 } else { endpoints[i][k].active -= 1 }
            }
            ended.append((id, 0, 0))
            return 0
        case .cloud(let pid):
            let p = pid.index
            var charged: Int64 = 0
            var used = 0
            switch outcome {
            case .succeeded(let input, let output)?:
                // At the prices it was routed at, for what it really used.
                charged = Int64((Double(input) * f.inputPrice + Double(output) * f.outputPrice).rounded(.up))
                if charged > f.reserved { overruns += 1 }
                used = input + output
                providers[p].failures = 0
            case .failed(let retryAfter)?:
                providers[p].failures += 1
                if providers[p].failures >= config.failuresBeforeCooldown {
                    providers[p].cooldownUntil = max(providers[p].cooldownUntil, now + config.cooldown)
                    providers[p].failures = 0
                }
                if let retryAfter { providers[p].cooldownUntil = max(providers[p].cooldownUntil, now + retryAfter) }
            case nil:
                // Abandoned: it may have used all it reserved.
                charged = f.reserved
                used = f.windowTokens
            }
            providers[p].reserved -= f.reserved
            providers[p].spent += charged
            tenantReserved[f.tenant.index] -= f.reserved
            tenantSpent[f.tenant.index] += charged
            // Unused tokens go back to the window (and tokens used beyond the reservation
            // join it), if the reservation is still in it.
            let k = f.windowEntry - providers[p].base
            if k >= providers[p].head && k < providers[p].window.count {
                let change = used - f.windowTokens
                providers[p].window[k].tokens += change
                providers[p].tokens += change
            }
            ended.append((id, charged, used))
            return charged
        case .rejected:
            return 0
        }
    }
}
