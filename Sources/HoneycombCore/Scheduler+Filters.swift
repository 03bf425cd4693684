extension Scheduler {
    /// Brings per-agent caches up to date: label verdicts for new label classes, resolved
    /// affinity lists, spread bookkeeping rows.
    mutating func prepare(_ r: PlacementRequest, _ registry: ExecutorRegistry, _ agents: AgentRegistry) {
        let a = r.agent.index
        if a >= labelFit.count {
            let n = a + 1 - labelFit.count
            labelFit.append(contentsOf: repeatElement([], count: n))
            affinityIDs.append(contentsOf: repeatElement(nil, count: n))
            antiAffinityIDs.append(contentsOf: repeatElement(nil, count: n))
        }
        let classes = registry.placementClasses
        if labelFit[a].count < classes.count {
            for k in labelFit[a].count..<classes.count {
                labelFit[a].append(classes[k].satisfies(agents[r.agent].selector) ? 1 : 2)
            }
        }
        if affinityIDs[a] == nil {
            affinityIDs[a] = agents[r.agent].affinity.compactMap(agents.id(named:))
            antiAffinityIDs[a] = agents[r.agent].antiAffinity.compactMap(agents.id(named:))
        }
        if policy.spreadPolicy != nil { prepareSpread(a, registry) }
    }

    // MARK: The placement rules
    //
    // Each rule is written once, here, and the scheduler's hot loop, preemption, rebalance
    // and `explain` all ask these functions: what explains a wait is what decides a placement.

    /// Whether `e` is a candidate for the request at all: online, with labels that satisfy its
    /// selector, and not private to another tenant. Nil when it is.
    func eligibility(_ r: PlacementRequest, _ e: Int, _ registry: ExecutorRegistry) -> PlacementFilter? {
        if registry.presence[e].state != .online { return .notOnline }
        if labelFit[r.agent.index][Int(registry.placementClass[e])] != 1 { return .labels }
        if !tenantAllows(r, e, registry) { return .tenant }
        return nil
    }

    /// An exclusive executor takes its owner's tasks only.
    @inline(__always)
    func tenantAllows(_ r: PlacementRequest, _ e: Int, _ registry: ExecutorRegistry) -> Bool {
        !registry.exclusive[e] || registry.owner[e] == r.tenant
    }

    /// Whether `needs` fits beside `used` in `capacity`: the slot, then CPU, then memory.
    @inline(__always)
    static func resourceRejection(_ needs: Resources, used: Resources, capacity: Resources) -> PlacementFilter? {
        if used.slots + needs.slots > capacity.slots { return .noFreeSlot }
        if used.cpuMillis + needs.cpuMillis > capacity.cpuMillis { return .cpu }
        if used.memoryBytes + needs.memoryBytes > capacity.memoryBytes { return .memory }
        return nil
    }

    /// Whether the request's anti-affinity and affinity hold beside tasks of these agents.
    func affinityRejection(_ r: PlacementRequest, beside neighbours: some Sequence<AgentID>) -> PlacementFilter? {
        let a = r.agent.index
        let anti = antiAffinityIDs[a] ?? [], near = affinityIDs[a] ?? []
        if anti.isEmpty && near.isEmpty { return nil }
        var nearFound = near.isEmpty
        for other in neighbours {
            if anti.contains(other) { return .antiAffinity }
            if !nearFound && near.contains(other) { nearFound = true }
        }
        return nearFound ? nil : .affinity
    }

    /// The first rule executor `e`, as it is now, breaks for the request; nil when it can
    /// take it.
    func rejection(_ r: PlacementRequest, _ e: Int, _ registry: ExecutorRegistry, _ tasks: TaskTable) -> PlacementFilter? {
        if let f = eligibility(r, e, registry) { return f }
        if let f = Self.resourceRejection(r.requires, used: registry.used[e], capacity: registry.capacity[e]) {
            return f
        }
        return affinityRejection(r, e, registry, tasks)
    }

    /// Whether the request's anti-affinity and affinity hold beside what executor `e` holds now.
    func affinityRejection(_ r: PlacementRequest, _ e: Int, _ registry: ExecutorRegistry, _ tasks: TaskTable) -> PlacementFilter? {
        affinityRejection(r, beside: registry.assigned[e].lazy.map { tasks.records[$0.index].agent })
    }

    /// Whether executor `e` can take the request now.
    func feasible(_ r: PlacementRequest, _ e: Int, _ registry: ExecutorRegistry, _ tasks: TaskTable) -> Bool {
        rejection(r, e, registry, tasks) == nil
    }

    /// The weighted score of placing the request on `e`; higher is better. The same sum, in
    /// the same order, as the scheduler's per-bucket score plus reliability, so that both
    /// give bit-identical figures.
    func score(_ r: PlacementRequest, _ e: Int, _ registry: ExecutorRegistry, _ now: Instant) -> Double {
        var total = 0.0
        if policy.binpack != 0 || policy.leastLoaded != 0 {
            let u = utilization(registry.used[e] + r.requires, of: registry.capacity[e])
            total += policy.binpack * u + policy.leastLoaded * (1 - u)
        }
        total += classScore(r, labelClass: Int(registry.placementClass[e]), owner: registry.owner[e], registry)
        return total + reliabilityScore(e, registry, now)
    }

    /// The spread and locality part of the score: what executors of one label class and
    /// owner share.
    func classScore(_ r: PlacementRequest, labelClass: Int, owner: TenantID, _ registry: ExecutorRegistry) -> Double {
        var total = 0.0
        if policy.spread != 0 { total += policy.spread * spreadScore(r.agent.index, labelClass: labelClass) }
        if policy.locality != 0 {
            total += policy.locality * locality(r.tenant, owner: owner, labels: registry.placementClasses[labelClass])
        }
        return total
    }

    /// The reliability part of the score: a / (a + half-life) for an executor up for `a`.
    @inline(__always)
    func reliabilityScore(_ e: Int, _ registry: ExecutorRegistry, _ now: Instant) -> Double {
        guard policy.reliability != 0 else { return 0 }
        let age = max(0, (now - registry.onlineSince[e]).seconds)
        return policy.reliability * age / (age + policy.reliabilityHalfLife.seconds)
    }

    /// Mean fraction used over the dimensions the executor offers.
    func utilization(_ used: Resources, of cap: Resources) -> Double {
        var sum = 0.0
        var dims = 0.0
        if cap.cpuMillis > 0 { sum += Double(used.cpuMillis) / Double(cap.cpuMillis); dims += 1 }
        if cap.memoryBytes > 0 { sum += Double(used.memoryBytes) / Double(cap.memoryBytes); dims += 1 }
        if cap.slots > 0 { sum += Double(used.slots) / Double(cap.slots); dims += 1 }
        return dims > 0 ? sum / dims : 0
    }

    /// 1 on the tenant's own executor, 0.5 at its home site, 0.25 in its home region, else 0.
    func locality(_ tenant: TenantID, owner: TenantID, labels: LabelSet) -> Double {
        if owner == tenant && tenant != .shared { return 1 }
        guard tenant.index < tenants.count else { return 0 }
        let home = tenants[tenant.index]
        if let site = home.site, labels["site"] == site { return 0.5 }
        if let region = home.region, labels["region"] == region { return 0.25 }
        return 0
    }

    // MARK: spread

    /// The registry made its placement classes again: what is kept per class is made again
    /// too (the spread tallies are kept per label value, and stay).
    mutating func placementClassesChanged(_ registry: ExecutorRegistry) {
        for a in labelFit.indices { labelFit[a] = [] }
        spreadValueOfClass = []
        refreshSpreadValues(registry)
    }

    private mutating func prepareSpread(_ a: Int, _ registry: ExecutorRegistry) {
        refreshSpreadValues(registry)
        while spreadCounts.count <= a { spreadCounts.append([]); spreadTotals.append(0) }
        if spreadCounts[a].count < spreadValues.count {
            spreadCounts[a].append(contentsOf: repeatElement(0, count: spreadValues.count - spreadCounts[a].count))
        }
    }

    /// The spread label's value of each placement class (-1: none), for classes new since.
    private mutating func refreshSpreadValues(_ registry: ExecutorRegistry) {
        guard let spread = policy.spreadPolicy else { return }
        let classes = registry.placementClasses
        while spreadValueOfClass.count < classes.count {
            let value = classes[spreadValueOfClass.count][spread.label]
            if let value {
                if let k = spreadValues.firstIndex(of: value) {
                    spreadValueOfClass.append(k)
                } else {
                    spreadValues.append(value)
                    spreadValueOfClass.append(spreadValues.count - 1)
                }
            } else {
                spreadValueOfClass.append(-1)
            }
        }
    }

    /// How much placing one more of the agent's tasks on this label class helps the spread:
    /// with targets, (target − share) / target, floored at 0; evenly, 1 − share.
    func spreadScore(_ a: Int, labelClass: Int) -> Double {
        guard let spread = policy.spreadPolicy, labelClass < spreadValueOfClass.count else { return 0 }
        let v = spreadValueOfClass[labelClass]
        guard v >= 0, a < spreadCounts.count, v < spreadCounts[a].count else { return 0 }
        let total = spreadTotals[a]
        let share = total > 0 ? Double(spreadCounts[a][v]) / Double(total) : 0
        if spread.targets.isEmpty { return 1 - share }
        guard let target = spread.targets[spreadValues[v]], target > 0 else { return 0 }
        return max(0, (target - share) / target)
    }

    /// Keeps the spread counts in step with reservations.
    mutating func noteAssignment(agent: AgentID, labelClass: Int, _ delta: Int) {
        guard policy.spreadPolicy != nil, labelClass < spreadValueOfClass.count else { return }
        let v = spreadValueOfClass[labelClass]
        let a = agent.index
        guard v >= 0, a < spreadCounts.count, v < spreadCounts[a].count else { return }
        spreadCounts[a][v] += delta
        spreadTotals[a] += delta
    }
}
