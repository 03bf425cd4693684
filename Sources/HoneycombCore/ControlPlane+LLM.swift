extension ControlPlane {
    /// Routes an executor's LLM call, reserving what the decision needs until the call is
    /// completed or abandoned.
    mutating func route(_ request: LLMRequest, _ now: Instant, _ effects: inout PlaneEffects) -> PlaneReply {
        guard executors.state(of: request.origin) != .unknown else { return .unknownExecutor }
        let decision = router.route(request, at: now)
        for (e, m) in router.warmUps { effects.append(.llmWarmUp(e, m)) }
        router.warmUps.removeAll()
        if decision.target != .rejected {
            if let record = router.record(of: request.id, at: now) { effects.append(.llmCallOpened(record)) }
            if let timeout = router.config.callTimeout {
                effects.append(.setTimer(.llmCallDeadline(request.id), at: now + timeout))
            }
        }
        return .routed(decision)
    }

    /// Where the call would go now, reserving nothing: advice for a user asking. The question
    /// is put to a copy of the plane, which is a value.
    public func advice(for request: LLMRequest, at now: Instant) -> PlaneReply {
        var copy = self
        var effects = PlaneEffects()
        return copy.route(request, now, &effects)
    }

    /// Takes back the store's ledger (after the executors): open calls keep what they hold and
    /// get their deadlines again; those of an executor no longer registered are abandoned.
    mutating func restoreLLM(_ ledger: LLMLedger, _ now: Instant, _ effects: inout PlaneEffects) {
        router.restore(ledger, at: now)
        for c in ledger.calls.sorted(by: { $0.id < $1.id }) where c.costMicroUSD == nil && router.inFlight[c.id] != nil {
            if executors.state(of: c.origin) == .unknown {
                if let cost = router.abandon(c.id) { effects.append(.llmAbandoned(c.id, costMicroUSD: cost)) }
            } else if let timeout = router.config.callTimeout {
                effects.append(.setTimer(.llmCallDeadline(c.id), at: max(now, c.routedAt + timeout)))
            }
        }
    }

    /// Routed LLM calls not yet completed or abandoned.
    public var openLLMCalls: Int { router.inFlight.count }
}
