/// How the scheduler weighs candidate executors and how many it looks at.
public struct SchedulerPolicy: Hashable, Sendable {
    /// How candidates are chosen for scoring.
    public enum Candidates: Hashable, Sendable {
        /// Score every feasible executor: exact, slowest on a large fleet.
        case all
        /// Stop after this many feasible executors (at least 1).
        case first(Int)
        /// Score max(100, 5 %) of the schedulable executors, as kube-scheduler's
        /// `percentageOfNodesToScore` does for large clusters.
        case adaptive
        /// Two feasible executors drawn at random; the better scored wins (Nomad, Mitzenmacher).
        case powerOfTwo
        /// One feasible executor drawn uniformly at random: the baseline every policy must beat.
        case random
    }

    /// Spread a agent's tasks across the values of one label.
    public struct Spread: Hashable, Sendable {
        public var label: String
        /// Desired share per value (summing to at most 1); empty means "evenly".
        public var targets: [String: Double]
        public init(label: String, targets: [String: Double] = [:]) { self.label = label; self.targets = targets }
    }

    /// Weight of bin-pack: prefer the executor that is fullest after placement (best fit).
    public var binpack: Double
    /// Weight of least-loaded: prefer the executor that is emptiest after placement.
    public var leastLoaded: Double
    /// Weight of spread (needs `spreadPolicy`).
    public var spread: Double
    public var spreadPolicy: Spread?
    /// Weight of locality: the submitting tenant's own executors first (1), then its site
    /// (0.5), then its region (0.25).
    public var locality: Double
    /// Weight of reliability: prefer executors up for long, a / (a + half-life) for an
    /// executor registered `a` ago.
    public var reliability: Double
    public var reliabilityHalfLife: TimeSpan
    public var candidates: Candidates
    /// May a task that fits nowhere evict tasks of lower priority to make room?
    public var preemption: Bool
    /// When an executor joins, at most this many running tasks may be moved onto it to make
    /// room elsewhere for a waiting task that fits nowhere (0: never move).
    public var rebalanceMoves: Int

    public init(binpack: Double = 0, leastLoaded: Double = 1, spread: Double = 0, spreadPolicy: Spread? = nil,
                locality: Double = 0, reliability: Double = 0, reliabilityHalfLife: TimeSpan = .seconds(3600.0),
                candidates: Candidates = .adaptive, preemption: Bool = false, rebalanceMoves: Int = 0) {
        self.binpack = binpack
        self.leastLoaded = leastLoaded
        self.spread = spread
        self.spreadPolicy = spreadPolicy
        self.locality = locality
        self.reliability = reliability
        self.reliabilityHalfLife = reliabilityHalfLife
        self.candidates = candidates
        self.preemption = preemption
        self.rebalanceMoves = rebalanceMoves
    }
}

/// A tenant as the plane's policy knows it: its fair-share weight and where it lives.
public struct TenantPolicy: Hashable, Sendable {
    public var name: String
    /// Its share of contended capacity relative to other tenants (default 1).
    public var weight: Double
    /// The `site` and `region` label values of the tenant's home, for the locality score.
    public var site: String?
    public var region: String?
    public init(name: String, weight: Double = 1, site: String? = nil, region: String? = nil) {
        self.name = name
        self.weight = weight
        self.site = site
        self.region = region
    }
}

/// One task to place, as the scheduler needs to see it.
struct PlacementRequest {
    var agent: AgentID
    var definition: AgentDefinition
    var tenant: TenantID
    var priority: Int8
}

/// The placement pipeline: filters (free slot, labels, tenant, CPU, memory, affinity,
/// anti-affinity) → weighted scores → pick.
///
/// Candidates are scanned from a cursor that moves on after every placement, so that equal
/// scores spread over the fleet instead of piling onto the lowest id, and a sampled scan sees
/// different executors each time, deterministically. Agents with label conditions scan only
/// the label classes that satisfy them.
struct Scheduler {
    var policy: SchedulerPolicy
    let tenants: [TenantPolicy]
    var random: (any PlaneRandomSource)?
    var cursor = 0
    /// Label feasibility per (agent, label class): 1 fits, 2 does not.
    var labelFit: [[UInt8]] = []
    /// Resolved affinity and anti-affinity per agent (nil: not resolved yet).
    var affinityIDs: [[AgentID]?] = []
    var antiAffinityIDs: [[AgentID]?] = []
    /// Locality score per (tenant, label class), computed on first use (-1: not yet).
    var localityCache: [[Double]] = []
    /// Spread bookkeeping: the spread label's value index for each label class (-1: none),
    /// the interned values, and tasks assigned per (agent, value).
    var spreadValueOfClass: [Int] = []
    var spreadValues: [String] = []
    var spreadCounts: [[Int]] = []
    var spreadTotals: [Int] = []
    /// Placement decisions made (successful picks).
    private(set) var decisions = 0

    init(policy: SchedulerPolicy, tenants: [TenantPolicy], random: (any PlaneRandomSource)?) {
        self.policy = policy
        self.tenants = tenants
        self.random = random
    }

    /// The best executor for the request, or `nil` when no schedulable executor passes the filters.
    mutating func pick(_ r: PlacementRequest, in registry: ExecutorRegistry, tasks: TaskTable,
                       agents: AgentRegistry, now: Instant) -> ExecutorID? {
        prepare(r, registry, agents)
        let sources = candidateSources(r, registry)
        let total = sources.reduce(0) { $0 + $1.count }
        guard total > 0 else { return nil }
        let chosen: Int
        switch policy.candidates {
        case .random:
            guard let e = randomFeasible(r, sources, total, registry, tasks, excluding: -1) else { return nil }
            chosen = e
        case .powerOfTwo:
            guard let a = randomFeasible(r, sources, total, registry, tasks, excluding: -1) else { return nil }
            if let b = randomFeasible(r, sources, total, registry, tasks, excluding: a),
               score(r, b, registry, now) > score(r, a, registry, now) {
                chosen = b
            } else {
                chosen = a
            }
        case .all, .first, .adaptive:
            guard let e = scan(r, sources, total, registry, tasks, now) else { return nil }
            chosen = e
        }
        decisions += 1
        return ExecutorID(chosen)
    }

    /// The executor sets to draw candidates from: all schedulable executors, or for an agent
    /// with label conditions, those of the label classes that satisfy them.
    private func candidateSources(_ r: PlacementRequest, _ registry: ExecutorRegistry) -> [DenseIndexSet] {
        if r.definition.selector.isEmpty { return registry.schedulable.isEmpty ? [] : [registry.schedulable] }
        // Empty sets are left out: the scan's arithmetic steps from one non-empty set to the next.
        let fits = labelFit[r.agent.index]
        return fits.indices.compactMap {
            fits[$0] == 1 && !registry.schedulableByClass[$0].isEmpty ? registry.schedulableByClass[$0] : nil
        }
    }

    /// Linear scan from the cursor, scoring up to the policy's candidate limit.
    ///
    /// The hot loop of every placement. Resource fit and the load scores are read straight
    /// from the registry's flat buffers (through the rules of `Scheduler+Filters`); the rarer filters and scores (tenant, affinity,
    /// spread, locality, reliability) are consulted only when the request or policy uses them.
    private mutating func scan(_ r: PlacementRequest, _ sources: [DenseIndexSet], _ total: Int,
                               _ registry: ExecutorRegistry, _ tasks: TaskTable, _ now: Instant) -> Int? {
        let limit: Int
        switch policy.candidates {
        case .first(let k): limit = max(1, k)
        case .adaptive: limit = max(100, registry.schedulable.count / 20)
        default: limit = total
        }
        let needs = r.definition.requires
        let a = r.agent.index
        let slowFilters = !(antiAffinityIDs[a]?.isEmpty ?? true) || !(affinityIDs[a]?.isEmpty ?? true)
        let slowScores = policy.spread != 0 || policy.locality != 0 || policy.reliability != 0
        let (wb, wl) = (policy.binpack, policy.leastLoaded)
        let scoring = wb != 0 || wl != 0 || slowScores
        var best = -1
        var bestScore = -Double.infinity
        var found = 0
        var scanned = 0
        var pos = cursor % total
        var s = 0, offset = pos
        while offset >= sources[s].count { offset -= sources[s].count; s += 1 }
        registry.capacity.withUnsafeBufferPointer { capacity in
        registry.used.withUnsafeBufferPointer { used in
            while scanned < total && found < limit {
                let e = sources[s].members.withUnsafeBufferPointer { Int($0[offset]) }
                scanned += 1
                pos += 1
                offset += 1
                if offset == sources[s].count {
                    offset = 0
                    s += 1
                    if s == sources.count { s = 0; pos = 0 }
                }
                let cap = capacity[e]
                guard Self.resourceRejection(needs, used: used[e], capacity: cap) == nil else { continue }
                guard tenantAllows(r, e, registry) else { continue }
                if slowFilters && affinityRejection(r, beside: registry.assigned[e].lazy.map { tasks.records[$0.index].agent }) != nil {
                    continue
                }
                let after = used[e] + needs
                found += 1
                guard scoring else { best = e; break }
                var sc = 0.0
                if wb != 0 || wl != 0 {
                    let u = utilization(after, of: cap)
                    sc = wb * u + wl * (1 - u)
                }
                if slowScores { sc += extraScore(r, e, registry, now) }
                if sc > bestScore { bestScore = sc; best = e }
            }
        }}
        cursor = pos
        return best < 0 ? nil : best
    }

    /// A uniformly random feasible executor other than `excluding`: rejection sampling first,
    /// then (when feasible executors are rare) an exact draw over all of them.
    private mutating func randomFeasible(_ r: PlacementRequest, _ sources: [DenseIndexSet], _ total: Int,
                                         _ registry: ExecutorRegistry, _ tasks: TaskTable, excluding: Int) -> Int? {
        guard let random else { preconditionFailure("a random placement policy needs the plane's random source") }
        func member(_ p: Int) -> Int {
            var p = p, s = 0
            while p >= sources[s].count { p -= sources[s].count; s += 1 }
            return Int(sources[s].members[p])
        }
        for _ in 0..<32 {
            let e = member(Int(random.next() % UInt64(total)))
            if e != excluding && feasible(r, e, registry, tasks) { return e }
        }
        var feasibleOnes: [Int] = []
        for p in 0..<total {
            let e = member(p)
            if e != excluding && feasible(r, e, registry, tasks) { feasibleOnes.append(e) }
        }
        guard !feasibleOnes.isEmpty else { return nil }
        return feasibleOnes[Int(random.next() % UInt64(feasibleOnes.count))]
    }
}

/// Where the plane's random choices come from. The simulator passes a seeded GSL stream
/// (one stream for this purpose alone); the live service a seeded stream of its own.
public protocol PlaneRandomSource: AnyObject {
    /// The next 64 uniformly random bits.
    func next() -> UInt64
}
