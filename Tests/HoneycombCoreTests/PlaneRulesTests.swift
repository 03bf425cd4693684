import HoneycombCore
import Testing

/// The rules the live driver once applied on its own, now the plane's: what runs is what is simulated.
@Suite struct PlaneRulesTests {
    @Test func aReportFromAnotherExecutorIsStale() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.register(1)
        let e = h.submit(0)!
        let other = ExecutorID(1 - e.rawValue)
        #expect(h.ask(.taskStarted(TaskID(0), attempt: 1, on: other)) == .stale)
        #expect(h.ask(.taskSucceeded(TaskID(0), attempt: 1, on: other)) == .stale)
        #expect(h.plane.counters.staleReports == 2)
        #expect(h.state(0) == .dispatched)
        #expect(h.ask(.taskStarted(TaskID(0), attempt: 1, on: e)) == .done)
        #expect(h.state(0) == .running)
    }

    @Test func aRepeatedStartIsAuditedOnce() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.submit(0)
        let first = h.send(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(first.contains { if case .audit(let a) = $0 { a.kind == .taskStarted } else { false } })
        #expect(h.ask(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0))) == .done)  // run it, as before
        #expect(h.effects.isEmpty)
    }

    @Test func aPublishedAgentIsAuditedOnceAndKeepsItsID() {
        var h = PlaneHarness(agents: [smallAgent])
        let echo = AgentDefinition(name: "echo", requires: Resources(cpuMillis: 1, memoryBytes: 0, slots: 1))
        #expect(h.ask(.agentPublished(echo)) == .agent(AgentID(1)))
        #expect(h.effects.list.count == 1)
        guard case .audit(let a) = h.effects.list.first else { Issue.record("not audited"); return }
        #expect(a.kind == .agentPublished && a.agent == 1)
        #expect(h.ask(.agentPublished(echo)) == .agent(AgentID(1)))
        #expect(h.effects.isEmpty)
        h.register(0)
        #expect(h.dispatches(in: h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(1))))).count == 1)
    }

    @Test func cancellingAnswersTheStateOrThatTheTaskIsUnknown() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.submit(0)
        #expect(h.ask(.taskCancelled(TaskID(0))) == .task(.cancelled))
        #expect(h.ask(.taskCancelled(TaskID(0))) == .task(.cancelled))
        #expect(h.ask(.taskCancelled(TaskID(7))) == .unknownTask)
    }

    @Test func aSeededSourceDrawsTheSameForTheSameSeed() {
        let a = SeededRandom(seed: 42), b = SeededRandom(seed: 42), c = SeededRandom(seed: 43)
        let da = (0..<8).map { _ in a.next() }
        #expect(da == (0..<8).map { _ in b.next() })
        #expect(da != (0..<8).map { _ in c.next() })
    }

    @Test(arguments: [SchedulerPolicy.Candidates.random, .powerOfTwo])
    func randomPoliciesPlaceWithASeededSource(_ candidates: SchedulerPolicy.Candidates) {
        func placements(seed: UInt64) -> [Int32] {
            var plane = ControlPlane(config: PlaneConfig(scheduler: SchedulerPolicy(candidates: candidates)),
                                     agents: [smallAgent], random: SeededRandom(seed: seed))
            var fx = PlaneEffects()
            for e in 0..<20 {
                plane.handle(.executorRegistered(ExecutorID(e), ExecutorSpec(labels: LabelSet(),
                             capacity: Resources(cpuMillis: 4000, memoryBytes: 8 << 30, slots: 4))), at: .zero, effects: &fx)
            }
            fx.removeAll()
            for t in 0..<40 { plane.handle(.taskSubmitted(TaskSpec(id: TaskID(t), agent: AgentID(0))), at: .zero, effects: &fx) }
            return fx.list.compactMap { if case .dispatch(_, _, let e) = $0 { e.rawValue } else { nil } }
        }
        #expect(placements(seed: 1).count == 40)
        #expect(placements(seed: 1) == placements(seed: 1))
    }

    /// On random fleets (labels, tenants, sizes, neighbours with affinity rules), what
    /// `explain` says fits is exactly where the scheduler places: one rule set.
    @Test func explainAndPlacementAgreeOnRandomFleets() {
        let random = SeededRandom(seed: 7)
        func draw(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
        for round in 0..<200 {
            let web = AgentDefinition(name: "web", requires: Resources(cpuMillis: 500, memoryBytes: 1 << 28, slots: 1))
            let picky = AgentDefinition(
                name: "picky", requires: Resources(cpuMillis: Int64(250 * (1 + draw(8))), memoryBytes: Int64(1 + draw(4)) << 29, slots: 1),
                selector: draw(2) == 0 ? LabelSelector() : LabelSelector(exactly: LabelSet([Label("zone", "z\(draw(3))")])),
                affinity: draw(4) == 0 ? ["web"] : [], antiAffinity: draw(4) == 0 ? ["web"] : [])
            let tenants = [TenantPolicy(name: "shared"), TenantPolicy(name: "alice")]
            var h = PlaneHarness(config: PlaneConfig(scheduler: SchedulerPolicy(candidates: .all), tenants: tenants),
                                 agents: [web, picky])
            for e in 0..<(1 + draw(12)) {
                let spec = ExecutorSpec(labels: LabelSet([Label("zone", "z\(draw(3))")]),
                                        capacity: Resources(cpuMillis: Int64(500 * (1 + draw(6))),
                                                            memoryBytes: Int64(1 + draw(4)) << 30, slots: Int64(1 + draw(3))),
                                        owner: draw(4) == 0 ? TenantID(1) : .shared, exclusive: draw(4) == 0)
                h.send(.executorRegistered(ExecutorID(e), spec))
                if draw(3) == 0 { h.send(.executorDraining(ExecutorID(e))) }
            }
            var id = 0
            for _ in 0..<draw(10) {
                h.send(.taskSubmitted(TaskSpec(id: TaskID(id), agent: AgentID(0))))
                id += 1
            }
            // Explain the request before it comes, then let the plane place it.
            let tenant = draw(2) == 0 ? TenantID.shared : TenantID(1)
            let explained = h.plane.explain(agent: AgentID(1), tenant: tenant, at: h.now)
            let placed = h.dispatches(in: h.send(.taskSubmitted(TaskSpec(id: TaskID(id), agent: AgentID(1), tenant: tenant)))).first
            #expect((placed != nil) == !explained.best.isEmpty, "round \(round): \(explained)")
            if let placed, explained.best.count < 3 {
                #expect(explained.best.contains { $0.executor == placed.executor }, "round \(round)")
            }
        }
    }
}
