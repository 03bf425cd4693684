import HoneycombCore
import Testing

/// Rebalancing's indexed donor search against brute force: on random loaded fleets where a
/// big task waits, an executor that joins takes moved tasks from the donor a scan of every
/// executor by the rebalancing rule picks (the lowest id where it works: `all`, and any
/// policy when few executors qualify), or — sampled — from a donor where the rule works, with
/// the tasks that rule moves; and nothing moves only when no executor could donate.
@Suite struct RebalanceSearchTests {
    typealias Draws = CapacityIndexTests.Draws

    static let agents = [
        AgentDefinition(name: "small", requires: Resources(cpuMillis: 1000, memoryBytes: 1 << 30, slots: 1)),
        AgentDefinition(name: "eu", requires: Resources(cpuMillis: 2000, memoryBytes: 2 << 30, slots: 1),
                        selector: LabelSelector([("region", .equals("eu"))])),
        AgentDefinition(name: "apart", requires: Resources(cpuMillis: 2000, memoryBytes: 2 << 30, slots: 1),
                        antiAffinity: ["apart"]),
        // What waits: fits only the largest executors, and beside little.
        AgentDefinition(name: "big", requires: Resources(cpuMillis: 10000, memoryBytes: 20 << 30, slots: 1),
                        antiAffinity: ["apart"]),
    ]
    static let big = 3

    /// The tasks the rebalancing rule moves from `e` to an empty `target` (of `spec`) so that
    /// `agent`'s task fits on `e`: its tasks newest first, each that the target takes beside
    /// those moved before it, until the task fits (no more than `budget`); nil when that
    /// does not make room.
    static func movers(_ plane: ControlPlane, from e: Int, target spec: ExecutorSpec, agent: AgentDefinition,
                       tenant: TenantID, budget: Int) -> [TaskID]? {
        let id = ExecutorID(e), registry = plane.executors
        guard registry.state(of: id) == .online, registry.labels(of: id).satisfies(agent.selector),
              !registry.exclusive[e] || registry.owner[e] == tenant else { return nil }
        var freed = registry.used[e], onTarget = Resources.zero
        var besideOnTarget: [String] = []
        var moved: [TaskID] = []
        func fits() -> Bool { (freed + agent.requires).fits(in: registry.capacity[e]) }
        for v in registry.tasks(on: id).reversed() where moved.count < budget {
            if fits() { break }
            let task = plane.tasks[v]!, mover = agents[task.agent.index]
            guard spec.labels.satisfies(mover.selector), !spec.exclusive || spec.owner == task.tenant,
                  (onTarget + mover.requires).fits(in: spec.capacity),
                  !mover.antiAffinity.contains(where: besideOnTarget.contains) else { continue }
            onTarget = onTarget + mover.requires
            besideOnTarget.append(mover.name)
            freed = freed - mover.requires
            moved.append(v)
        }
        guard !moved.isEmpty, fits() else { return nil }
        let remaining = registry.tasks(on: id).filter { !moved.contains($0) }.map { agents[plane.tasks[$0]!.agent.index].name }
        return agent.antiAffinity.contains(where: remaining.contains) ? nil : moved
    }

    /// One random world and its probes. Returns how many joins moved tasks, and how many found
    /// no donor.
    static func check(case n: UInt64, candidates: SchedulerPolicy.Candidates) -> (moved: Int, none: Int) {
        var d = Draws(state: n &* 7_919 &+ 3)
        let tenants = [TenantPolicy(name: "shared"), TenantPolicy(name: "acme"), TenantPolicy(name: "zeta")]
        let shapes = [Resources(cpuMillis: 4000, memoryBytes: 8 << 30, slots: 2),
                      Resources(cpuMillis: 8000, memoryBytes: 16 << 30, slots: 4),
                      Resources(cpuMillis: 16000, memoryBytes: 32 << 30, slots: 4)]
        let budget = 1 + d.below(4)
        let policy = SchedulerPolicy(binpack: d.weight(), leastLoaded: d.weight(), candidates: candidates,
                                     rebalanceMoves: budget)
        var plane = ControlPlane(config: PlaneConfig(scheduler: policy, tenants: tenants), agents: agents,
                                 random: CountingRandom(seed: n))
        var fx = PlaneEffects()
        func spec() -> ExecutorSpec {
            let owner = TenantID(d.below(3))
            return ExecutorSpec(labels: LabelSet([Label("region", d.chance(0.5) ? "eu" : "us")]),
                                capacity: shapes[d.below(shapes.count)], owner: owner,
                                exclusive: owner != .shared && d.chance(0.3))
        }
        var executors = d.chance(0.2) ? 150 + d.below(150) : 3 + d.below(40)
        for e in 0..<executors { plane.handle(.executorRegistered(ExecutorID(e), spec()), at: .zero, effects: &fx) }
        for e in 0..<executors where d.chance(0.05) {
            plane.handle(.executorDraining(ExecutorID(e)), at: .zero, effects: &fx)
        }
        // Load that is placed at once; what would wait is withdrawn, so that only probes wait.
        var next = 0
        for _ in 0..<(executors * 3) {
            let task = TaskID(next)
            next += 1
            fx.removeAll()
            plane.handle(.taskSubmitted(TaskSpec(id: task, agent: AgentID(d.below(Self.big)), tenant: TenantID(d.below(3)))),
                         at: .zero, effects: &fx)
            if plane.tasks[task]!.state == .queued { plane.handle(.taskCancelled(task), at: .zero, effects: &fx) }
        }
        var moved = 0, none = 0
        for probe in 0..<10 {
            let tenant = TenantID(d.below(3)), task = TaskID(next)
            next += 1
            fx.removeAll()
            plane.handle(.taskSubmitted(TaskSpec(id: task, agent: AgentID(Self.big), tenant: tenant)), at: .zero, effects: &fx)
            guard plane.tasks[task]!.state == .queued else { continue }  // it fitted: no probe
            // An executor joins. Does the big task fit it outright, and else, which donors work?
            let target = spec(), t = executors
            executors += 1
            let agent = agents[Self.big]
            let direct = target.labels.satisfies(agent.selector) && (!target.exclusive || target.owner == tenant)
                && agent.requires.fits(in: target.capacity)
            var plans: [Int: [TaskID]] = [:]
            for e in 0..<t {
                if let m = movers(plane, from: e, target: target, agent: agent, tenant: tenant, budget: budget) { plans[e] = m }
            }
            // How many executors the search reads: online, holding work, allowed, able to hold the task at all.
            let qualifying = (0..<t).filter { e in
                let id = ExecutorID(e), r = plane.executors
                return r.state(of: id) == .online && !r.tasks(on: id).isEmpty && r.labels(of: id).satisfies(agent.selector)
                    && (!r.exclusive[e] || r.owner[e] == tenant) && agent.requires.fits(in: r.capacity[e])
            }.count
            let exact = PreemptionSearchTests.searchIsExact(candidates, qualifying: qualifying)

            fx.removeAll()
            plane.handle(.executorRegistered(ExecutorID(t), target), at: .zero, effects: &fx)
            let preempts = fx.list.compactMap { if case .preempt(let v, _, let e) = $0 { (v, e) } else { nil } }
            let placed = fx.list.compactMap { if case .dispatch(task, _, let e) = $0 { e } else { nil } }.first
            if direct {
                #expect(placed == ExecutorID(t) && preempts.isEmpty,
                        "case \(n) probe \(probe): the big task fitted the newcomer, yet went to \(String(describing: placed))")
                continue
            }
            guard let donor = preempts.first?.1 else {
                #expect(plans.isEmpty && placed == nil,
                        "case \(n) probe \(probe): nothing moved, yet \(plans.keys.sorted()) could donate")
                none += 1
                plane.handle(.taskCancelled(task), at: .zero, effects: &fx)
                continue
            }
            moved += 1
            #expect(preempts.allSatisfy { $0.1 == donor }, "case \(n) probe \(probe): moved from several donors")
            #expect(placed == donor, "case \(n) probe \(probe): moved from \(donor), placed on \(String(describing: placed))")
            guard let plan = plans[donor.index] else {
                Issue.record("case \(n) probe \(probe): moved from \(donor), where the rule makes no room")
                continue
            }
            #expect(preempts.map(\.0) == plan, "case \(n) probe \(probe): moved \(preempts.map(\.0)); the rule moves \(plan)")
            if exact {
                #expect(donor.index == plans.keys.min(),
                        "case \(n) probe \(probe): donor \(donor), not \(plans.keys.min()!) (\(qualifying) qualify)")
            }
        }
        return (moved, none)
    }

    @Test(arguments: [SchedulerPolicy.Candidates.all, .adaptive, .sample(3), .powerOfTwo])
    func theIndexedSearchPicksADonorTheRuleAllows(_ candidates: SchedulerPolicy.Candidates) {
        var moved = 0, none = 0
        for n in 0..<120 as Range<UInt64> {
            let r = Self.check(case: n, candidates: candidates)
            moved += r.moved
            none += r.none
        }
        // The worlds must exercise both outcomes, and many moves.
        #expect(moved > 300, "only \(moved) joins moved tasks")
        #expect(none > 60, "only \(none) joins found no donor")
    }
}
