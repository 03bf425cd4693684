import HoneycombCore
import Testing

/// Preemption's indexed search against brute force: on random fleets loaded with work of
/// mixed priorities, a task that fits nowhere evicts what a scan of every executor by the
/// preemption rule evicts (`all`, and any policy when few executors qualify), or — sampled —
/// a set that rule gives for the executor it chose; and it evicts nothing only when no
/// executor could make room.
@Suite struct PreemptionSearchTests {
    typealias Draws = CapacityIndexTests.Draws

    static let agents = [
        AgentDefinition(name: "small", requires: Resources(cpuMillis: 500, memoryBytes: 512 << 20, slots: 1)),
        AgentDefinition(name: "big", requires: Resources(cpuMillis: 4000, memoryBytes: 8 << 30, slots: 1)),
        AgentDefinition(name: "eu", requires: Resources(cpuMillis: 1000, memoryBytes: 1 << 30, slots: 1),
                        selector: LabelSelector([("region", .equals("eu"))])),
        AgentDefinition(name: "apart", requires: Resources(cpuMillis: 1000, memoryBytes: 2 << 30, slots: 1),
                        antiAffinity: ["apart"]),
        // Fits only the largest executors, and only one at a time.
        AgentDefinition(name: "huge", requires: Resources(cpuMillis: 12000, memoryBytes: 24 << 30, slots: 1)),
    ]

    /// What the preemption rule makes of executor `e` for a task: the victims (lowest priority
    /// first, among equals the most recently placed, all below `priority`, until it fits) and
    /// their worst priority; nil when it cannot make room there.
    static func plan(_ plane: ControlPlane, _ e: Int, agent: AgentDefinition, tenant: TenantID,
                     priority: Int8) -> (victims: [TaskID], worst: Int8)? {
        let id = ExecutorID(e)
        let registry = plane.executors
        guard registry.state(of: id) == .online, registry.labels(of: id).satisfies(agent.selector),
              !registry.exclusive[e] || registry.owner[e] == tenant else { return nil }
        let held = registry.tasks(on: id)
        let lower = held.reversed().enumerated().filter { plane.tasks[$0.element]!.priority < priority }
            .sorted { (plane.tasks[$0.element]!.priority, $0.offset) < (plane.tasks[$1.element]!.priority, $1.offset) }
            .map(\.element)
        var used = registry.used[e]
        func fits() -> Bool { (used + agent.requires).fits(in: registry.capacity[e]) }
        var victims: [TaskID] = []
        for v in lower {
            if fits() { break }
            used = used - agents[plane.tasks[v]!.agent.index].requires
            victims.append(v)
        }
        guard !victims.isEmpty, fits() else { return nil }
        let remaining = held.filter { !victims.contains($0) }.map { agents[plane.tasks[$0]!.agent.index].name }
        guard !agent.antiAffinity.contains(where: remaining.contains) else { return nil }
        return (victims, victims.map { plane.tasks[$0]!.priority }.max()!)
    }

    /// Whether a search of the executors holding work reads them all: under `all`, or when no
    /// more qualify than the policy's sample draws (`adaptive` 128, `sample(k)` k,
    /// `powerOfTwo` 2, `random` 1). Shared with `RebalanceSearchTests`.
    static func searchIsExact(_ candidates: SchedulerPolicy.Candidates, qualifying: Int) -> Bool {
        let draws: Int? = switch candidates {
        case .all: nil
        case .adaptive: SchedulerPolicy.adaptiveSample
        case .sample(let k): k
        case .powerOfTwo: 2
        case .random: 1
        }
        return draws.map { qualifying <= $0 } ?? true
    }

    /// Whether some executor takes the task without evicting anything.
    static func fitsSomewhere(_ plane: ControlPlane, agent: AgentDefinition, tenant: TenantID) -> Bool {
        let registry = plane.executors
        return (0..<registry.count).contains { e in
            let id = ExecutorID(e)
            guard registry.state(of: id) == .online, registry.labels(of: id).satisfies(agent.selector),
                  !registry.exclusive[e] || registry.owner[e] == tenant,
                  (registry.used[e] + agent.requires).fits(in: registry.capacity[e]) else { return false }
            let beside = registry.tasks(on: id).map { agents[plane.tasks[$0]!.agent.index].name }
            return !agent.antiAffinity.contains(where: beside.contains)
        }
    }

    /// One random world and its probes. Returns how many probes preempted, and how many found
    /// no room even by preempting.
    static func check(case n: UInt64, candidates: SchedulerPolicy.Candidates) -> (preempted: Int, impossible: Int) {
        var d = Draws(state: n &* 104_729 &+ 17)
        // The load comes from the first three; "probe" submits only probes, so that no probe waits
        // behind load of its class.
        let tenants = [TenantPolicy(name: "shared"), TenantPolicy(name: "acme"), TenantPolicy(name: "zeta"),
                       TenantPolicy(name: "probe")]
        let shapes = [Resources(cpuMillis: 2000, memoryBytes: 4 << 30, slots: 2),
                      Resources(cpuMillis: 8000, memoryBytes: 16 << 30, slots: 4),
                      Resources(cpuMillis: 16000, memoryBytes: 32 << 30, slots: 3)]
        let policy = SchedulerPolicy(binpack: d.weight(), leastLoaded: d.weight(), candidates: candidates, preemption: true)
        var plane = ControlPlane(config: PlaneConfig(scheduler: policy, tenants: tenants), agents: agents,
                                 random: CountingRandom(seed: n))
        var fx = PlaneEffects()
        // Most worlds are small; some hold more executors that qualify than a sample draws.
        let executors = d.chance(0.2) ? 150 + d.below(150) : 3 + d.below(40)
        for e in 0..<executors {
            let owner = TenantID(d.below(3))
            let spec = ExecutorSpec(labels: LabelSet([Label("region", d.chance(0.5) ? "eu" : "us")]),
                                    capacity: shapes[d.below(shapes.count)], owner: owner,
                                    exclusive: owner != .shared && d.chance(0.3))
            plane.handle(.executorRegistered(ExecutorID(e), spec), at: .zero, effects: &fx)
        }
        for e in 0..<executors where d.chance(0.05) {
            plane.handle(.executorDraining(ExecutorID(e)), at: .zero, effects: &fx)
        }
        // A load of priorities 0-2 (or, in some worlds, 0-13, above many probes), placed (and
        // preempting) by the plane itself; some of it ends.
        let top = d.chance(0.5) ? 3 : 14
        var running: [(TaskID, UInt16, ExecutorID)] = []
        var next = 0
        for _ in 0..<(executors * 4) {
            fx.removeAll()
            plane.handle(.taskSubmitted(TaskSpec(id: TaskID(next), agent: AgentID(d.below(agents.count)),
                                                 tenant: TenantID(d.below(3)), priority: Int8(d.below(top)))),
                         at: .zero, effects: &fx)
            next += 1
            for f in fx.list { if case .dispatch(let t, let a, let e) = f { running.append((t, a, e)) } }
            if !running.isEmpty && d.chance(0.2) {
                let (t, a, e) = running.remove(at: d.below(running.count))
                fx.removeAll()
                plane.handle(.taskSucceeded(t, attempt: a, on: e), at: .zero, effects: &fx)
                for f in fx.list { if case .dispatch(let t, let a, let e) = f { running.append((t, a, e)) } }
            }
        }
        // Probes at priorities 3-14, each of a class nothing else waits in.
        var preempted = 0, impossible = 0
        for probe in 0..<12 {
            let a = d.below(agents.count), tenant = TenantID(top == 3 ? d.below(4) : 3), priority = Int8(3 + probe)
            let agent = agents[a]
            let direct = fitsSomewhere(plane, agent: agent, tenant: tenant)
            var plans: [Int: (victims: [TaskID], worst: Int8)] = [:]
            for e in 0..<executors { if let p = plan(plane, e, agent: agent, tenant: tenant, priority: priority) { plans[e] = p } }
            let best = plans.min { ($0.value.victims.count, $0.value.worst, $0.key) < ($1.value.victims.count, $1.value.worst, $1.key) }
            // How many executors the search reads: online, allowed, able to hold the task at all,
            // running something below it.
            let qualifying = (0..<executors).filter { e in
                let id = ExecutorID(e), r = plane.executors
                return r.state(of: id) == .online && r.labels(of: id).satisfies(agent.selector)
                    && (!r.exclusive[e] || r.owner[e] == tenant) && agent.requires.fits(in: r.capacity[e])
                    && r.tasks(on: id).contains { plane.tasks[$0]!.priority < priority }
            }.count
            let exact = Self.searchIsExact(candidates, qualifying: qualifying)

            let task = TaskID(next)
            next += 1
            fx.removeAll()
            plane.handle(.taskSubmitted(TaskSpec(id: task, agent: AgentID(a), tenant: tenant, priority: priority)),
                         at: .zero, effects: &fx)
            // Its evictions come just before its dispatch (each with its audit).
            guard let at = fx.list.firstIndex(where: { if case .dispatch(task, _, _) = $0 { true } else { false } }) else {
                #expect(!direct && best == nil,
                        "case \(n) probe \(probe): \(agent.name) stayed queued, yet room was to be had")
                impossible += 1
                // It waits in a class of its own: later probes (of higher priority) go first.
                continue
            }
            guard case .dispatch(_, _, let chosen) = fx.list[at] else { preconditionFailure() }
            var victims: [TaskID] = []
            var k = at - 1
            while k >= 0 {
                if case .preempt(let v, _, chosen) = fx.list[k] {
                    victims.insert(v, at: 0)
                } else if case .audit(let event) = fx.list[k], event.kind == .taskPreempted {
                } else {
                    break
                }
                k -= 1
            }
            if direct {
                #expect(victims.isEmpty, "case \(n) probe \(probe): evicted \(victims) though the task fitted somewhere")
                continue
            }
            preempted += 1
            guard let plan = plans[chosen.index] else {
                Issue.record("case \(n) probe \(probe): went to \(chosen), where the rule makes no room")
                continue
            }
            #expect(Set(victims) == Set(plan.victims),
                    "case \(n) probe \(probe): evicted \(victims) on \(chosen); the rule evicts \(plan.victims)")
            if exact, let best {
                #expect(chosen.index == best.key,
                        "case \(n) probe \(probe): preempted on \(chosen), not on \(best.key) (\(qualifying) qualify)")
            }
        }
        return (preempted, impossible)
    }

    @Test(arguments: [SchedulerPolicy.Candidates.all, .adaptive, .sample(3), .powerOfTwo])
    func theIndexedSearchEvictsWhatTheRuleEvicts(_ candidates: SchedulerPolicy.Candidates) {
        var preempted = 0, impossible = 0
        for n in 0..<120 as Range<UInt64> {
            let r = Self.check(case: n, candidates: candidates)
            preempted += r.preempted
            impossible += r.impossible
        }
        // The worlds must exercise both outcomes, and many preemptions.
        #expect(preempted > 800, "only \(preempted) probes preempted")
        #expect(impossible > 60, "only \(impossible) probes found no room")
    }
}
