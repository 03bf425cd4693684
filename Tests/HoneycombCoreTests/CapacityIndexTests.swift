import HoneycombCore
import Testing

/// The capacity index against brute force: on random fleets, loads and policies, the
/// indexed search finds what a scan of every executor by the placement rules finds.
@Suite struct CapacityIndexTests {
    /// SplitMix64, so that each case is reproducible from its number alone.
    struct Draws {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }
        mutating func weight() -> Double { chance(0.5) ? 0 : Double(below(8) + 1) / 4 }
    }

    static let agents = [
        AgentDefinition(name: "small", requires: Resources(cpuMillis: 500, memoryBytes: 512 << 20, slots: 1)),
        AgentDefinition(name: "big", requires: Resources(cpuMillis: 4000, memoryBytes: 8 << 30, slots: 1)),
        AgentDefinition(name: "eu", requires: Resources(cpuMillis: 1000, memoryBytes: 1 << 30, slots: 1),
                        selector: LabelSelector([("region", .equals("eu"))])),
        AgentDefinition(name: "apart", requires: Resources(cpuMillis: 1000, memoryBytes: 2 << 30, slots: 1),
                        antiAffinity: ["apart"]),
        AgentDefinition(name: "beside", requires: Resources(cpuMillis: 250, memoryBytes: 256 << 20, slots: 1),
                        affinity: ["small"]),
    ]
    static let tenants = [TenantPolicy(name: "shared"), TenantPolicy(name: "acme", weight: 2, site: "a", region: "eu"),
                          TenantPolicy(name: "zeta", region: "us")]
    static let shapes = [Resources(cpuMillis: 2000, memoryBytes: 4 << 30, slots: 2),
                         Resources(cpuMillis: 8000, memoryBytes: 16 << 30, slots: 4),
                         Resources(cpuMillis: 32000, memoryBytes: 64 << 30, slots: 8)]

    /// One random world: policy, fleet and load; then probes, each compared with brute force.
    /// Returns how many probes ran and how many found nothing feasible.
    static func check(case n: UInt64, candidates: SchedulerPolicy.Candidates) -> (probes: Int, infeasible: Int) {
        var d = Draws(state: n &* 7919)
        var policy = SchedulerPolicy(binpack: d.weight(), leastLoaded: d.weight(), spread: d.weight(),
                                     spreadPolicy: SchedulerPolicy.Spread(label: "region"), locality: d.weight(),
                                     reliability: d.weight(), candidates: candidates)
        if d.chance(0.3) { policy.spreadPolicy = SchedulerPolicy.Spread(label: "site", targets: ["a": 0.7, "b": 0.3]) }
        var plane = ControlPlane(config: PlaneConfig(scheduler: policy, tenants: tenants), agents: agents,
                                 random: nil)
        var fx = PlaneEffects()
        var now = Instant.zero
        let executors = 5 + d.below(60)
        for e in 0..<executors {
            now = now + .seconds(Double(d.below(100)))
            // A label nothing reads, different on every executor: it must not change a placement.
            let labels = LabelSet([Label("region", d.chance(0.5) ? "eu" : "us"), Label("site", d.chance(0.5) ? "a" : "b"),
                                   Label("host", "h\(e)")])
            let owner = TenantID(d.below(3))
            let spec = ExecutorSpec(labels: labels, capacity: shapes[d.below(shapes.count)], owner: owner,
                                    exclusive: owner != .shared && d.chance(0.5))
            plane.handle(.executorRegistered(ExecutorID(e), spec), at: now, effects: &fx)
        }
        for e in 0..<executors where d.chance(0.1) {
            plane.handle(d.chance(0.5) ? .executorDraining(ExecutorID(e)) : .executorLeft(ExecutorID(e)), at: now,
                         effects: &fx)
        }
        // A load: tasks placed by the plane itself, some of them ended again.
        var running: [(TaskID, UInt16, ExecutorID)] = []
        var nextTask = 0
        func take(_ effects: inout PlaneEffects) {
            for f in effects.list { if case .dispatch(let t, let a, let e) = f { running.append((t, a, e)) } }
            effects.removeAll()
        }
        for _ in 0..<(executors * 2) {
            plane.handle(.taskSubmitted(TaskSpec(id: TaskID(nextTask), agent: AgentID(d.below(agents.count)),
                                                 tenant: TenantID(d.below(3)))), at: now, effects: &fx)
            nextTask += 1
            take(&fx)
            if !running.isEmpty && d.chance(0.3) {
                let (t, a, e) = running.remove(at: d.below(running.count))
                plane.handle(.taskSucceeded(t, attempt: a, on: e), at: now, effects: &fx)
                take(&fx)
            }
        }
        var probes = 0, infeasible = 0
        for _ in 0..<20 {
            guard plane.queuedCount == 0 else { break }
            now = now + .seconds(Double(d.below(50)))
            let agent = AgentID(d.below(agents.count)), tenant = TenantID(d.below(3))
            let scores = (0..<executors).map {
                plane.placementScore(agent: agent, tenant: tenant, on: ExecutorID($0), at: now)
            }
            let best = scores.compactMap { $0 }.max()
            plane.handle(.taskSubmitted(TaskSpec(id: TaskID(nextTask), agent: agent, tenant: tenant)), at: now,
                         effects: &fx)
            nextTask += 1
            let placed = fx.list.compactMap { f -> ExecutorID? in if case .dispatch(_, _, let e) = f { e } else { nil } }
            take(&fx)
            probes += 1
            guard let best else {
                #expect(placed.isEmpty, "case \(n): nothing is feasible, yet the task went to \(placed)")
                infeasible += 1
                break
            }
            guard let e = placed.first, let score = scores[e.index] else {
                Issue.record("case \(n): \(agent) of \(tenant) went to \(placed), not to a feasible executor")
                break
            }
            let definition = agents[agent.index]
            let exact: Bool
            switch candidates {
            case .all: exact = true
            // Per bucket only when nothing looks at single executors; otherwise sampled.
            case .adaptive: exact = policy.reliability == 0 && definition.affinity.isEmpty && definition.antiAffinity.isEmpty
            default: exact = false
            }
            if exact {
                #expect(score == best, "case \(n): \(agent) went to \(e) scoring \(score); the best scores \(best)")
            }
        }
        return (probes, infeasible)
    }

    @Test(arguments: [SchedulerPolicy.Candidates.all, .adaptive, .sample(3)])
    func theIndexedSearchFindsWhatABruteForceScanFinds(_ candidates: SchedulerPolicy.Candidates) {
        var probes = 0, infeasible = 0
        for n in 0..<300 as Range<UInt64> {
            let r = Self.check(case: n, candidates: candidates)
            probes += r.probes
            infeasible += r.infeasible
        }
        // The worlds must exercise both outcomes, and many placements.
        #expect(probes > 2000, "only \(probes) probes ran")
        #expect(infeasible > 10, "only \(infeasible) probes found nothing feasible")
    }
}
