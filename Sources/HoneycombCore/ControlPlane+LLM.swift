extension ControlPlane {
    /// Routes an executor's LLM call, reserving what the decision needs until the call is
    /// completed or abandoned.
    mutating func route(_ request: LLMRequest, _ now: Instant, _ effects: inout PlaneEffects) -> PlaneReply {
        guard executors.state(of: request.origin) != .unknown else { return .unknownExecutor }
        let decision = router.route(request, at: now)
        for (e, m) in router.warmUps { effects.append(.llmWarmUp(e, m)) }
        router.warmUps.removeAll()
        if decision.target != .rejected, let timeout = router.config.callTimeout {
            effects.append(.setTimer(.llmCallDeadline(request.id), at: now + timeout))
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

    /// Routed LLM calls not yet completed or abandoned.
    public var openLLMCalls: Int { router.inFlight.count }
}
