import HoneycombCore
import Testing

/// A deterministic random source for the random placement policies.
final class CountingRandom: PlaneRandomSource {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func agent(_ name: String, cpu: Int64 = 1000, selector: LabelSelector = LabelSelector(),
           affinity: [String] = [], antiAffinity: [String] = [], maxAttempts: Int = 3) -> AgentDefinition {
    AgentDefinition(name: name, requires: Resources(cpuMillis: cpu, memoryBytes: 0, slots: 1), selector: selector,
                    affinity: affinity, antiAffinity: antiAffinity, maxAttempts: maxAttempts)
}

func policy(_ p: SchedulerPolicy, tenants: [TenantPolicy] = [TenantPolicy(name: "shared")],
            lease: TimeSpan? = nil) -> PlaneConfig {
    PlaneConfig(lease: lease, scheduler: p, tenants: tenants)
}

@Suite struct LabelSelectorTests {
    let labels = LabelSet([Label("arch", "arm64"), Label("wasm", "2.10.1"), Label("region", "eu")])

    @Test func eachConditionDoesWhatItSays() {
        #expect(labels.satisfies(LabelSelector([("arch", .equals("arm64"))])))
        #expect(!labels.satisfies(LabelSelector([("arch", .equals("amd64"))])))
        #expect(labels.satisfies(LabelSelector([("region", .oneOf(["us", "eu"]))])))
        #expect(!labels.satisfies(LabelSelector([("region", .oneOf(["us", "ap"]))])))
        #expect(labels.satisfies(LabelSelector([("gpu", .notEquals("h100"))])))
        #expect(!labels.satisfies(LabelSelector([("region", .notEquals("eu"))])))
        #expect(labels.satisfies(LabelSelector([("wasm", .exists)])))
        #expect(!labels.satisfies(LabelSelector([("gpu", .exists)])))
        // Versions compare numerically: 2.10.1 is above 2.9.
        #expect(labels.satisfies(LabelSelector([("wasm", .version(.atLeast, "2.9"))])))
        #expect(labels.satisfies(LabelSelector([("wasm", .version(.greater, "2.10"))])))
        #expect(!labels.satisfies(LabelSelector([("wasm", .version(.less, "2.10.1"))])))
        #expect(!labels.satisfies(LabelSelector([("gpu", .version(.atLeast, "1"))])))
    }
}

@Suite struct FilterTests {
    @Test func aPrivateExecutorTakesOnlyItsOwnersTasks() {
        let alice = TenantID(1), bob = TenantID(2)
        var h = PlaneHarness(config: policy(SchedulerPolicy(candidates: .all),
                                            tenants: [.init(name: "shared"), .init(name: "alice"), .init(name: "bob")]),
                             agents: [smallAgent])
        h.send(.executorRegistered(ExecutorID(0), ExecutorSpec(labels: LabelSet(),
               capacity: Resources(cpuMillis: 8000, memoryBytes: 1 << 34, slots: 4), owner: alice, exclusive: true)))
        let bobs = h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0), tenant: bob)))
        #expect(h.dispatches(in: bobs).isEmpty)
        let alices = h.send(.taskSubmitted(TaskSpec(id: TaskID(1), agent: AgentID(0), tenant: alice)))
        #expect(h.dispatches(in: alices).map(\.executor) == [ExecutorID(0)])
        #expect(h.plane.explain(TaskID(0), at: h.now)?.reason == .tenant)
    }

    @Test func antiAffinityPutsReplicasOnDifferentExecutors() {
        var h = PlaneHarness(config: policy(SchedulerPolicy(binpack: 1, leastLoaded: 0, candidates: .all)),
                             agents: [agent("replica", antiAffinity: ["replica"])])
        for e in 0..<3 { h.register(e) }
        let placed = (0..<3).compactMap { h.submit($0) }
        #expect(Set(placed).count == 3)  // bin-pack alone would have stacked them
        #expect(h.submit(3) == nil)
        #expect(h.plane.explain(TaskID(3), at: h.now)?.reason == .antiAffinity)
    }

    @Test func affinityPlacesATaskOnlyBesideTheAgentItNeeds() {
        var h = PlaneHarness(config: policy(SchedulerPolicy(candidates: .all)),
                             agents: [agent("cache"), agent("reader", affinity: ["cache"])])
        for e in 0..<4 { h.register(e) }
        #expect(h.submit(0, agent: 1) == nil)  // no cache runs anywhere yet
        #expect(h.plane.explain(TaskID(0), at: h.now)?.reason == .affinity)
        // Placing the cache makes the waiting reader placeable: it follows at once.
        let fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(1), agent: AgentID(0))))
        let placed = h.dispatches(in: fx)
        #expect(placed.map(\.task) == [TaskID(1), TaskID(0)])
        #expect(placed[0].executor == placed[1].executor)
        #expect(h.submit(2, agent: 1) == placed[0].executor)
    }
}

@Suite struct ScoreTests {
    @Test func spreadFollowsItsTargetShares() {
        let p = SchedulerPolicy(leastLoaded: 0, spread: 1,
                                spreadPolicy: .init(label: "region", targets: ["eu": 0.75, "us": 0.25]), candidates: .all)
        var h = PlaneHarness(config: policy(p), agents: [smallAgent])
        for e in 0..<4 { h.register(e, cpu: 1_000_000, memory: 1 << 40, slots: 100, labels: [Label("region", e < 2 ? "us" : "eu")]) }
        var perRegion = ["eu": 0, "us": 0]
        for t in 0..<40 {
            let e = h.submit(t)!
            perRegion[e.index < 2 ? "us" : "eu"]! += 1
        }
        #expect(perRegion == ["eu": 30, "us": 10])
    }

    @Test func evenSpreadWithoutTargetsBalancesTheValues() {
        let p = SchedulerPolicy(binpack: 0.1, leastLoaded: 0, spread: 1, spreadPolicy: .init(label: "zone"), candidates: .all)
        var h = PlaneHarness(config: policy(p), agents: [smallAgent])
        for e in 0..<6 { h.register(e, cpu: 1_000_000, memory: 1 << 40, slots: 100, labels: [Label("zone", ["a", "b", "c"][e % 3])]) }
        var perZone = [0, 0, 0]
        for t in 0..<30 { perZone[h.submit(t)!.index % 3] += 1 }
        #expect(perZone == [10, 10, 10])
    }

    @Test func localityPrefersTheTenantsOwnExecutorsThenItsSite() {
        let alice = TenantID(1)
        let p = SchedulerPolicy(leastLoaded: 0, locality: 1, candidates: .all)
        let tenants = [TenantPolicy(name: "shared"), TenantPolicy(name: "alice", site: "berlin")]
        var h = PlaneHarness(config: policy(p, tenants: tenants), agents: [smallAgent])
        h.register(0, slots: 1, labels: [Label("site", "paris")])
        h.register(1, slots: 1, labels: [Label("site", "berlin")])
        h.send(.executorRegistered(ExecutorID(2), ExecutorSpec(labels: LabelSet([Label("site", "paris")]),
               capacity: Resources(cpuMillis: 4000, memoryBytes: 1 << 33, slots: 1), owner: alice)))
        func submit(_ t: Int) -> ExecutorID? {
            h.dispatches(in: h.send(.taskSubmitted(TaskSpec(id: TaskID(t), agent: AgentID(0), tenant: alice)))).first?.executor
        }
        #expect(submit(0) == ExecutorID(2))  // her own machine
        #expect(submit(1) == ExecutorID(1))  // then her site
        #expect(submit(2) == ExecutorID(0))  // then anywhere
    }

    @Test func reliabilityPrefersExecutorsUpTheLongest() {
        let p = SchedulerPolicy(leastLoaded: 0, reliability: 1, candidates: .all)
        var h = PlaneHarness(config: policy(p), agents: [smallAgent])
        h.register(0)
        h.advance(.seconds(3600.0))
        h.register(1)
        h.register(2)
        h.advance(.seconds(60.0))
        for e in 0..<3 { h.send(.executorHeartbeat(ExecutorID(e))) }
        #expect(h.submit(0) == ExecutorID(0))
    }

    @Test func powerOfTwoPicksTheLessLoadedOfTwoRandomExecutors() {
        let p = SchedulerPolicy(binpack: 0, leastLoaded: 1, candidates: .powerOfTwo)
        var plane = ControlPlane(config: policy(p), agents: [smallAgent], random: CountingRandom(seed: 1))
        var fx = PlaneEffects()
        for e in 0..<20 {
            plane.handle(.executorRegistered(ExecutorID(e), ExecutorSpec(labels: LabelSet(),
                         capacity: Resources(cpuMillis: 64000, memoryBytes: 1 << 36, slots: 64))), at: .zero, effects: &fx)
        }
        for t in 0..<400 { plane.handle(.taskSubmitted(TaskSpec(id: TaskID(t), agent: AgentID(0))), at: .zero, effects: &fx) }
        let loads = (0..<20).map { plane.executors.used[$0].slots }
        // Two choices keep the maximum load near the mean (20); one random choice would not.
        #expect(loads.reduce(0, +) == 400)
        #expect(loads.max()! <= 23, "\(loads)")
    }

    @Test func randomPlacementUsesTheWholeFleetAndIsRepeatable() {
        func run(seed: UInt64) -> [Int64] {
            var plane = ControlPlane(config: policy(SchedulerPolicy(candidates: .random)), agents: [smallAgent],
                                     random: CountingRandom(seed: seed))
            var fx = PlaneEffects()
            for e in 0..<10 {
                plane.handle(.executorRegistered(ExecutorID(e), ExecutorSpec(labels: LabelSet(),
                             capacity: Resources(cpuMillis: 64000, memoryBytes: 1 << 36, slots: 64))), at: .zero, effects: &fx)
            }
            for t in 0..<100 { plane.handle(.taskSubmitted(TaskSpec(id: TaskID(t), agent: AgentID(0))), at: .zero, effects: &fx) }
            return (0..<10).map { plane.executors.used[$0].slots }
        }
        let a = run(seed: 7)
        #expect(a.allSatisfy { $0 > 0 })
        #expect(a == run(seed: 7))
        #expect(a != run(seed: 8))
    }
}

@Suite struct QueueOrderTests {
    @Test func higherPriorityGoesFirstWhenASlotFrees() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0, slots: 1)
        h.submit(0)
        h.send(.taskSubmitted(TaskSpec(id: TaskID(1), agent: AgentID(0), priority: 0)))
        h.send(.taskSubmitted(TaskSpec(id: TaskID(2), agent: AgentID(0), priority: 5)))
        let fx = h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.dispatches(in: fx).map(\.task) == [TaskID(2)])
    }

    @Test func contendedSlotsGoToTenantsByWeight() {
        let tenants = [TenantPolicy(name: "shared"), TenantPolicy(name: "a", weight: 1), TenantPolicy(name: "b", weight: 3)]
        var h = PlaneHarness(config: policy(SchedulerPolicy(), tenants: tenants), agents: [smallAgent])
        h.register(0, cpu: 64000, slots: 8)
        // Both tenants queue far more than fits, a first.
        for t in 0..<8 { h.send(.taskSubmitted(TaskSpec(id: TaskID(t), agent: AgentID(0), tenant: TenantID(1)))) }
        for t in 8..<40 {
            h.send(.taskSubmitted(TaskSpec(id: TaskID(t), agent: AgentID(0), tenant: TenantID(t < 24 ? 1 : 2))))
        }
        // Tenant a holds all 8 slots. As they free, b (weight 3) takes slots until it holds 3 per a's 1.
        var held = [0, 8, 0]
        for t in 0..<8 {
            let fx = h.send(.taskSucceeded(TaskID(t), attempt: 1, on: ExecutorID(0)))
            held[1] -= 1
            for d in h.dispatches(in: fx) { held[Int(h.plane.tasks[d.task]!.tenant.rawValue)] += 1 }
        }
        #expect(held == [0, 2, 6])
    }

    @Test func preemptionEvictsLowerPriorityWorkWithoutSpendingItsAttempts() {
        let p = SchedulerPolicy(candidates: .all, preemption: true)
        var h = PlaneHarness(config: policy(p), agents: [agent("a", maxAttempts: 1)])
        h.register(0, slots: 1)
        h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0), priority: 0)))
        h.send(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0)))
        let fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(1), agent: AgentID(0), priority: 10)))
        #expect(fx.contains { if case .preempt(TaskID(0), 1, ExecutorID(0)) = $0 { true } else { false } })
        #expect(h.dispatches(in: fx).map(\.task) == [TaskID(1)])
        #expect(h.state(0) == .queued)
        #expect(h.plane.counters.preempted == 1)
        // When the slot frees, the victim runs again: its preempted attempt did not use up its one attempt.
        let again = h.send(.taskSucceeded(TaskID(1), attempt: 1, on: ExecutorID(0)))
        #expect(h.dispatches(in: again).map(\.attempt) == [2])
        // Equal priority never preempts.
        h.send(.taskSubmitted(TaskSpec(id: TaskID(2), agent: AgentID(0), priority: 0)))
        #expect(h.state(2) == .queued)
    }

    @Test func aLostExecutorKeepsItsTasksUntilTheirLeasesRunOut() {
        var h = PlaneHarness(config: PlaneConfig(heartbeatTimeout: .seconds(30.0), retryBackoff: .seconds(1.0),
                                                 lease: .seconds(120.0)), agents: [smallAgent])
        h.register(0)
        h.register(1)
        h.submit(0)
        h.send(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0)))
        h.advance(.seconds(31.0))
        let fx = h.send(.timerFired(.liveness))
        #expect(h.plane.executors.state(of: ExecutorID(0)) == .lost)
        #expect(h.state(0) == .running)  // not rescheduled yet
        let expiry = h.timers(in: fx).first { if case .leaseExpiry = $0.0 { true } else { false } }
        #expect(expiry?.1 == Instant.zero + .seconds(120.0))  // last heard of at 0 s

        // Cut off, not dead: it speaks within the lease and is taken back with its task.
        h.advance(.seconds(30.0))
        #expect(h.ask(.executorHeartbeat(ExecutorID(0))) == .done)
        #expect(h.plane.executors.state(of: ExecutorID(0)) == .online)
        h.send(.timerFired(expiry!.0))  // a stale expiry changes nothing
        #expect(h.state(0) == .running)
        #expect(h.ended(in: h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0)))).map(\.1) == [.succeeded])
        #expect(h.plane.counters.rescheduled == 0)
    }

    @Test func whenTheLeaseRunsOutTheTasksAreRescheduled() {
        var h = PlaneHarness(config: PlaneConfig(heartbeatTimeout: .seconds(30.0), lease: .seconds(60.0)),
                             agents: [smallAgent])
        h.register(0)
        h.submit(0)
        h.advance(.seconds(31.0))
        let fx = h.send(.timerFired(.liveness))
        let expiry = h.timers(in: fx).first { if case .leaseExpiry = $0.0 { true } else { false } }!
        h.advance(.seconds(29.0))
        h.send(.timerFired(expiry.0))
        #expect(h.state(0) == .backoff)
        #expect(h.plane.counters.rescheduled == 1)
        // Speaking now is too late: it must register again.
        #expect(h.ask(.executorHeartbeat(ExecutorID(0))) == .reregister)
    }
}

@Suite struct RebalanceTests {
    @Test func aJoiningExecutorTakesRunningTasksWhenThatLetsAWaitingOneStart() {
        let small = agent("small", cpu: 2000), big = agent("big", cpu: 8000)
        var h = PlaneHarness(config: policy(SchedulerPolicy(candidates: .all, rebalanceMoves: 4)), agents: [small, big])
        h.register(0, cpu: 8000, slots: 4)
        h.submit(0, agent: 0)
        h.submit(1, agent: 0)
        #expect(h.submit(2, agent: 1) == nil)  // 4 of 8 cores are taken
        // A smaller executor joins: too small for the big task, big enough for the two small ones.
        let fx = h.send(.executorRegistered(ExecutorID(1), ExecutorSpec(labels: LabelSet(),
                        capacity: Resources(cpuMillis: 4000, memoryBytes: 1 << 34, slots: 2))))
        let stopped = fx.compactMap { if case .preempt(let t, _, ExecutorID(0)) = $0 { t } else { nil } }
        #expect(Set(stopped) == [TaskID(0), TaskID(1)])
        let placed = h.dispatches(in: fx).map { ($0.task, $0.executor) }
        #expect(placed.filter { $0.1 == ExecutorID(1) }.map(\.0).sorted() == [TaskID(0), TaskID(1)])
        #expect(placed.contains { $0 == (TaskID(2), ExecutorID(0)) })
        #expect(h.plane.counters.moved == 2)
    }

    @Test func withoutRebalancingNothingRunningMoves() {
        var h = PlaneHarness(config: policy(SchedulerPolicy(candidates: .all)),
                             agents: [agent("small", cpu: 2000), agent("big", cpu: 8000)])
        h.register(0, cpu: 8000, slots: 4)
        h.submit(0, agent: 0)
        h.submit(1, agent: 1)
        let fx = h.send(.executorRegistered(ExecutorID(1), ExecutorSpec(labels: LabelSet(),
                        capacity: Resources(cpuMillis: 4000, memoryBytes: 1 << 34, slots: 2))))
        #expect(!fx.contains { if case .preempt = $0 { true } else { false } })
        #expect(h.state(1) == .queued)
    }
}

@Suite struct ExplanationTests {
    @Test func aTaskTooBigForAnyFreeSpaceSaysHowMuchIsMissing() {
        var h = PlaneHarness(agents: [agent("big", cpu: 6000)])
        h.register(0, cpu: 4000)
        h.register(1, cpu: 8000)
        h.submit(0)
        #expect(h.submit(1) == nil)
        let x = h.plane.explain(TaskID(1), at: h.now)!
        #expect(x.reason == .cpu)
        #expect(x.removed.first { $0.filter == .cpu }?.count == 2)
        #expect(x.hint == "It needs 6 cores; the most free on a matching executor with a free slot is 4.")
    }

    @Test func missingLabelsAndBusyFleetsAreNamed() {
        var h = PlaneHarness(agents: [agent("gpu", selector: LabelSelector([("gpu", .exists)])), smallAgent])
        h.register(0, slots: 1)
        h.submit(0, agent: 0)
        let x = h.plane.explain(TaskID(0), at: h.now)!
        #expect(x.reason == .labels)
        #expect(x.hint == "No online executor satisfies {gpu: *}.")
        h.submit(1, agent: 1)
        h.submit(2, agent: 1)
        #expect(h.plane.explain(TaskID(2), at: h.now)!.hint == "All 1 matching executors are busy: it waits for a slot.")
        let reasons = h.plane.pendingReasons(at: h.now)
        #expect(reasons.map(\.reason) == [.labels, .noFreeSlot])
    }

    @Test func fragmentationCountsFreeSlotsNoWaitingTaskCanUse() {
        var h = PlaneHarness(agents: [agent("big", cpu: 6000)])
        h.register(0, cpu: 4000, slots: 2)
        h.register(1, cpu: 8000, slots: 2)
        h.submit(0)
        h.submit(1)
        // Executor 1 has 2000 millicores and a slot left, executor 0 4000 and two: none fits 6000.
        #expect(h.plane.fragmentation(at: h.now) == 1)
    }
}

/// Cases a review found: each failed before its fix.
@Suite struct PlacementRegressionTests {
    @Test func aScanSkipsLabelClassesWithNothingSchedulable() {
        let sel = LabelSelector([("region", .oneOf(["eu", "us"]))])
        var h = PlaneHarness(config: policy(SchedulerPolicy(candidates: .all)), agents: [agent("a", cpu: 2000, selector: sel)])
        h.register(0, cpu: 1000, labels: [Label("region", "eu"), Label("k", "a")])   // too little CPU
        h.register(1, labels: [Label("region", "eu"), Label("k", "b")])              // will drain
        h.register(2, labels: [Label("region", "us")])
        h.send(.executorDraining(ExecutorID(1)))
        #expect(h.submit(0) == ExecutorID(2))
    }

    @Test func theReasonIsWhatStopsTheExecutorsThatMatch() {
        var h = PlaneHarness(agents: [agent("gpu", selector: LabelSelector([("gpu", .equals("yes"))]))])
        for e in 0..<10 { h.register(e, labels: [Label("gpu", "no")]) }
        h.register(10, slots: 1, labels: [Label("gpu", "yes")])
        h.submit(0)
        h.submit(1)
        let x = h.plane.explain(TaskID(1), at: h.now)!
        #expect(x.reason == .noFreeSlot)
        #expect(x.hint == "All 1 matching executors are busy: it waits for a slot.")
    }

    @Test func roomLeftByAPreemptionIsUsedAtOnce() {
        let p = SchedulerPolicy(candidates: .all, preemption: true)
        var h = PlaneHarness(config: policy(p), agents: [agent("low", cpu: 3000), agent("mid", cpu: 2000), agent("high", cpu: 2000)])
        h.register(0, cpu: 4000, slots: 4)
        h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0), priority: 0)))
        h.send(.taskSubmitted(TaskSpec(id: TaskID(1), agent: AgentID(1), priority: 0)))
        #expect(h.state(1) == .queued)
        let fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(2), agent: AgentID(2), priority: 10)))
        // Evicting low (3 cores) for high (2) leaves 2 free: mid, waiting, takes them.
        #expect(Set(h.dispatches(in: fx).map(\.task)) == [TaskID(2), TaskID(1)])
    }

    @Test func aTaskWaitingForItsAffinityFollowsInTheSameInput() {
        var h = PlaneHarness(config: policy(SchedulerPolicy(candidates: .all)),
                             agents: [agent("cache"), agent("reader", affinity: ["cache"])])
        h.submit(0, agent: 1)
        h.submit(1, agent: 0)
        let fx = h.send(.executorRegistered(ExecutorID(0), ExecutorSpec(labels: LabelSet(),
                        capacity: Resources(cpuMillis: 8000, memoryBytes: 1 << 34, slots: 4))))
        #expect(Set(h.dispatches(in: fx).map(\.task)) == [TaskID(0), TaskID(1)])
    }

    @Test func aLeaseTimerFromAnEarlierLossDoesNotCutTheNextLeaseShort() {
        var h = PlaneHarness(config: PlaneConfig(heartbeatTimeout: .seconds(30.0), lease: .seconds(120.0)),
                             agents: [smallAgent])
        h.register(0)
        h.submit(0)
        h.advance(.seconds(30.0))
        let first = h.timers(in: h.send(.timerFired(.liveness)))
            .first { if case .leaseExpiry = $0.0 { true } else { false } }!
        h.advance(.seconds(5.0))
        h.send(.executorHeartbeat(ExecutorID(0)))          // recovered at 35 s
        h.advance(.seconds(30.0))
        h.send(.timerFired(.liveness))  // lost again at 65 s: lease to 155 s
        h.advance(.seconds(55.0))
        h.send(.timerFired(first.0))                        // the first timer, at 120 s
        #expect(h.state(0) == .dispatched)
    }

    @Test func preemptionRespectsAntiAffinity() {
        let p = SchedulerPolicy(candidates: .all, preemption: true)
        var h = PlaneHarness(config: policy(p), agents: [agent("replica", antiAffinity: ["replica"]), agent("low")])
        h.register(0, slots: 2)
        h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0), priority: 5)))
        h.send(.taskSubmitted(TaskSpec(id: TaskID(1), agent: AgentID(1), priority: 0)))
        let fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(2), agent: AgentID(0), priority: 10)))
        #expect(!fx.contains { if case .preempt = $0 { true } else { false } })
        #expect(h.state(2) == .queued)
    }
}
