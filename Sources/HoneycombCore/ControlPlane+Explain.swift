/// Why an executor cannot take a task: the first filter it fails.
public enum PlacementFilter: String, CaseIterable, Sendable, Comparable {
    case notOnline = "not-online"
    case labels
    case tenant
    case noFreeSlot = "no-free-slot"
    case cpu
    case memory
    case affinity
    case antiAffinity = "anti-affinity"

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// Why a task waits (or where it would go): what each filter removed, the best candidates,
/// and what would have made it fit.
public struct PlacementExplanation: Sendable, CustomStringConvertible {
    /// Executors the registry knows.
    public var executors: Int
    /// How many executors each filter removed (each counted at the first filter it fails).
    public var removed: [(filter: PlacementFilter, count: Int)]
    /// The best feasible executors with their scores, best first (empty when none fits).
    public var best: [(executor: ExecutorID, score: Double)]
    /// The filter that removed the most executors, when nothing fits.
    public var reason: PlacementFilter?
    /// What would have made it fit, in a sentence.
    public var hint: String

    public var description: String {
        let filters = removed.filter { $0.count > 0 }.map { "\($0.filter.rawValue): \($0.count)" }
        return "\(executors) executors; removed by \(filters.isEmpty ? "nothing" : filters.joined(separator: ", ")). \(hint)"
    }
}

extension ControlPlane {
    /// Explains where the task stands with every executor: why it waits, or where it would go.
    /// Costs one pass over the registry: for operators and periodic sampling, not per decision.
    public mutating func explain(_ task: TaskID, at now: Instant) -> PlacementExplanation? {
        guard tasks[task] != nil else { return nil }
        return explain(request(for: task), now)
    }

    /// Where a task of the agent, submitted by `tenant` at `priority`, would go now, or why it
    /// would wait: the question asked before submitting.
    public mutating func explain(agent: AgentID, tenant: TenantID = .shared, priority: Int8 = 0,
                                 at now: Instant) -> PlacementExplanation {
        explain(PlacementRequest(agent: agent, requires: agents.requirements(of: agent), tenant: tenant, priority: priority), now)
    }

    /// The score a task of the agent, submitted by `tenant` at `priority`, would get on
    /// `executor` now, or nil when the executor cannot take it: one executor judged by the
    /// placement rules alone, without the index (what a brute-force scan would see).
    public mutating func placementScore(agent: AgentID, tenant: TenantID = .shared, priority: Int8 = 0,
                                        on executor: ExecutorID, at now: Instant) -> Double? {
        let r = PlacementRequest(agent: agent, requires: agents.requirements(of: agent), tenant: tenant, priority: priority)
        scheduler.prepare(r, executors, agents)
        guard executor.index < executors.count, scheduler.feasible(r, executor.index, executors, tasks) else { return nil }
        return scheduler.score(r, executor.index, executors, now)
    }

    private mutating func explain(_ r: PlacementRequest, _ now: Instant) -> PlacementExplanation {
        scheduler.prepare(r, executors, agents)
        var removed = [Int](repeating: 0, count: PlacementFilter.allCases.count)
        var best: [(ExecutorID, Double)] = []
        var eligible = 0, maxFreeCPU: Int64 = -1, maxFreeMemory: Int64 = -1
        for e in 0..<executors.count {
            let filter = scheduler.rejection(r, e, executors, tasks)
            if let filter, [.notOnline, .labels, .tenant].contains(filter) {
                removed[PlacementFilter.allCases.firstIndex(of: filter)!] += 1
                continue
            }
            eligible += 1
            let free = executors.capacity[e] - executors.used[e]
            if free.slots >= r.requires.slots {
                maxFreeCPU = max(maxFreeCPU, free.cpuMillis)
                maxFreeMemory = max(maxFreeMemory, free.memoryBytes)
            }
            if let filter {
                removed[PlacementFilter.allCases.firstIndex(of: filter)!] += 1
            } else {
                best.append((ExecutorID(e), scheduler.score(r, e, executors, now)))
            }
        }
        best.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
        let counts = zip(PlacementFilter.allCases, removed).map { (filter: $0, count: $1) }
        // The reason is the filter that stops the executors that could otherwise take it:
        // among eligible ones (labels and tenant passed) the commonest later filter; with no
        // eligible executor, labels or tenant; with nothing online, that.
        var reason: PlacementFilter?
        if best.isEmpty {
            func commonest(_ among: [PlacementFilter]) -> PlacementFilter? {
                counts.filter { among.contains($0.filter) && $0.count > 0 }
                    .max { $0.count < $1.count || ($0.count == $1.count && $0.filter > $1.filter) }?.filter
            }
            reason = eligible > 0 ? commonest([.noFreeSlot, .cpu, .memory, .affinity, .antiAffinity])
                                  : commonest([.labels, .tenant]) ?? .notOnline
        }
        return PlacementExplanation(
            executors: executors.count, removed: counts, best: Array(best.prefix(3)), reason: reason,
            hint: hint(r, reason: reason, eligible: eligible, maxFreeCPU: maxFreeCPU, maxFreeMemory: maxFreeMemory,
                       fits: !best.isEmpty))
    }

    private func hint(_ r: PlacementRequest, reason: PlacementFilter?, eligible: Int, maxFreeCPU: Int64,
                      maxFreeMemory: Int64, fits: Bool) -> String {
        let needs = r.requires
        if fits { return "It fits now; it waits only for the next placement pass." }
        switch reason {
        case .notOnline?, nil: return "No executor is online."
        case .labels?: return "No online executor satisfies \(agents[r.agent].selector)."
        case .tenant?: return "The executors that match are private to other tenants."
        case .noFreeSlot?: return "All \(eligible) matching executors are busy: it waits for a slot."
        case .cpu?:
            return "It needs \(cores(needs.cpuMillis)) cores; the most free on a matching executor with a free slot is \(cores(max(0, maxFreeCPU)))."
        case .memory?:
            return "It needs \(mib(needs.memoryBytes)) MiB; the most free on a matching executor with a free slot is \(mib(max(0, maxFreeMemory))) MiB."
        case .affinity?: return "No matching executor runs any of \(agents[r.agent].affinity.joined(separator: ", ")) now."
        case .antiAffinity?: return "Every matching executor with room already runs one of \(agents[r.agent].antiAffinity.joined(separator: ", "))."
        }
    }

    private func cores(_ m: Int64) -> String { m % 1000 == 0 ? "\(m / 1000)" : "\(Double(m) / 1000)" }
    private func mib(_ b: Int64) -> String { "\(b / 1_048_576)" }

    /// Why queued tasks wait, by reason: each non-empty class's head explained, counted once
    /// per task waiting in that class.
    public mutating func pendingReasons(at now: Instant) -> [(reason: PlacementFilter, tasks: Int)] {
        var counts = [Int](repeating: 0, count: PlacementFilter.allCases.count)
        for c in queue.classes.indices {
            guard let head = queue.head(c), let x = explain(head, at: now), let reason = x.reason else { continue }
            counts[PlacementFilter.allCases.firstIndex(of: reason)!] += queue.classes[c].tasks.count
        }
        return zip(PlacementFilter.allCases, counts).filter { $0.1 > 0 }.map { (reason: $0, tasks: $1) }
    }

    /// The share of free slots (on online executors) that no waiting task could use now:
    /// capacity stranded by its shape. Nil when nothing waits or nothing is free.
    public mutating func fragmentation(at now: Instant) -> Double? {
        let heads = queue.classes.indices.compactMap { queue.head($0) }
        guard !heads.isEmpty else { return nil }
        let requests = heads.map(request(for:))
        for r in requests { scheduler.prepare(r, executors, agents) }
        var free = 0, stranded = 0
        for bucket in executors.index.members {
        for m in bucket {
            let e = Int(m)
            let slots = Int(executors.capacity[e].slots - executors.used[e].slots)
            free += slots
            let usable = requests.contains { scheduler.feasible($0, e, executors, tasks) }
            if !usable { stranded += slots }
        }}
        return free > 0 ? Double(stranded) / Double(free) : nil
    }
}
