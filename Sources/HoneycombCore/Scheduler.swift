/// How the scheduler weighs candidate executors and how many it looks at.
public struct SchedulerPolicy: Hashable, Sendable {
    /// How candidates are chosen for scoring.
    ///
    /// Placement reads the registry's capacity index (executors bucketed by label class,
    /// owner, capacity and usage), so every policy's cost per decision grows with the number
    /// of buckets, not with the fleet — except where noted.
    public enum Candidates: Hashable, Sendable {
        /// The best of every feasible executor: exact. Per bucket when the policy scores only
        /// what buckets share (bin-pack, least-loaded, spread, locality) and the agent has no
        /// affinity rules; otherwise every feasible executor is scored (linear in them).
        case all
        /// The best of `k` (at least 1) drawn uniformly, with replacement, from the feasible
        /// executors. The pick then scores below at most a share 1/(k+1) of them on average,
        /// and is outside the best share q with probability (1 − q)ᵏ.
        case sample(Int)
        /// Exact per bucket where `all` is (the cheap case), else the best of
        /// `adaptiveSample` drawn from the feasible executors: constant cost at any size.
        case adaptive
        /// Two feasible executors drawn at random; the better scored wins (Nomad, Mitzenmacher).
        case powerOfTwo
        /// One feasible executor drawn uniformly at random: the baseline every policy must beat.
        case random
    }

    /// How many feasible executors `adaptive` scores when it cannot decide per bucket: the
    /// expected share of feasible executors better than its pick is 1/129 (0.8 %), and it
    /// misses the best 5 % with probability 0.95¹²⁸ ≈ 0.14 %.
    public static let adaptiveSample = 128

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
    /// What one task of the agent reserves.
    var requires: Resources
    var tenant: TenantID
    var priority: Int8
}

/// The placement pipeline: filters (free slot, labels, tenant, CPU, memory, affinity,
/// anti-affinity) → weighted scores → pick.
///
/// Candidates come from the registry's capacity index: the filters every member of a bucket
/// shares (labels, tenant, resources) are checked once per bucket, and so are the scores they
/// share; only affinity and reliability look at single executors. Among equally good
/// executors a cursor takes each in turn, so that equal scores spread over the fleet instead
/// of piling onto one.
struct Scheduler {
    var policy: SchedulerPolicy
    let tenants: [TenantPolicy]
    var random: (any PlaneRandomSource)?
    /// Turns among equally good executors.
    var cursor = 0
    /// The sampler's state (see `sampleDraw`).
    var sampleState: UInt64 = 0
    /// Scratch of `pick`: the feasible buckets, how many executors they hold, and (for the
    /// per-bucket search) their scores.
    var feasibleBuckets: [Int32] = []
    var feasibleScores: [Double] = []
    var feasibleTotal = 0
    /// Scratch of the searches among executors that hold work (see `gatherHolders`).
    var holderBuckets: [Int32] = []
    var holderTotal = 0
    /// The lowest priority any gathered executor runs.
    var holderLowest = Int8.max
    /// Label feasibility per (agent, label class): 1 fits, 2 does not.
    var labelFit: [[UInt8]] = []
    /// Resolved affinity and anti-affinity per agent (nil: not resolved yet).
    var affinityIDs: [[AgentID]?] = []
    var antiAffinityIDs: [[AgentID]?] = []
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
        let index = registry.index
        gatherFeasibleBuckets(r, index)
        guard feasibleTotal > 0 else { return nil }
        let a = r.agent.index
        let slowFilters = !(antiAffinityIDs[a]?.isEmpty ?? true) || !(affinityIDs[a]?.isEmpty ?? true)
        let perExecutorScore = policy.reliability != 0
        let chosen: Int?
        switch policy.candidates {
        case .random:
            chosen = randomFeasible(r, index, registry, tasks, slowFilters, excluding: -1)
        case .powerOfTwo:
            if let a = randomFeasible(r, index, registry, tasks, slowFilters, excluding: -1) {
                if let b = randomFeasible(r, index, registry, tasks, slowFilters, excluding: a),
                   score(r, b, registry, now) > score(r, a, registry, now) {
                    chosen = b
                } else {
                    chosen = a
                }
            } else {
                chosen = nil
            }
        case .all, .adaptive:
            if !slowFilters && !perExecutorScore {
                chosen = bestBucketMember(r, index, registry)
            } else if case .all = policy.candidates {
                chosen = bestOfAll(r, index, registry, tasks, now, slowFilters)
            } else {
                chosen = bestOfSample(SchedulerPolicy.adaptiveSample, r, index, registry, tasks, now, slowFilters)
            }
        case .sample(let k):
            chosen = bestOfSample(max(1, k), r, index, registry, tasks, now, slowFilters)
        }
        guard let chosen else { return nil }
        decisions += 1
        return ExecutorID(chosen)
    }

    /// Collects the non-empty buckets whose executors all pass the request's bucket-level
    /// filters (labels, tenant, resources) into `feasibleBuckets`, and counts their members.
    private mutating func gatherFeasibleBuckets(_ r: PlacementRequest, _ index: CapacityIndex) {
        feasibleBuckets.removeAll(keepingCapacity: true)
        feasibleTotal = 0
        let fits = labelFit[r.agent.index]
        let needs = r.requires
        for c in index.active.indices where c < fits.count && fits[c] == 1 {
            for b32 in index.active[c] {
                let b = Int(b32)
                let key = index.keys[b]
                guard !key.exclusive || key.owner == r.tenant,
                      Self.resourceRejection(needs, used: key.used, capacity: key.capacity) == nil else { continue }
                feasibleBuckets.append(b32)
                feasibleTotal += index.members[b].count
            }
        }
    }

    /// The score every member of bucket `b` shares for the request (all but reliability).
    private func bucketScore(_ r: PlacementRequest, _ key: CapacityKey, _ registry: ExecutorRegistry) -> Double {
        var total = 0.0
        if policy.binpack != 0 || policy.leastLoaded != 0 {
            let u = utilization(key.used + r.requires, of: key.capacity)
            total += policy.binpack * u + policy.leastLoaded * (1 - u)
        }
        return total + classScore(r, labelClass: Int(key.labelClass), owner: key.owner, registry)
    }

    /// Exact, per bucket: the best-scored feasible bucket; among buckets that tie, the
    /// members are taken in turn (a cursor over all of them), so that equal scores spread
    /// over the fleet instead of piling onto one executor.
    private mutating func bestBucketMember(_ r: PlacementRequest, _ index: CapacityIndex, _ registry: ExecutorRegistry) -> Int {
        var bestScore = -Double.infinity
        var tied = 0
        feasibleScores.removeAll(keepingCapacity: true)
        for b in feasibleBuckets {
            let sc = bucketScore(r, index.keys[Int(b)], registry)
            feasibleScores.append(sc)
            if sc > bestScore {
                bestScore = sc
                tied = index.members[Int(b)].count
            } else if sc == bestScore {
                tied += index.members[Int(b)].count
            }
        }
        var k = cursor % tied
        cursor &+= 1
        for (b, sc) in zip(feasibleBuckets, feasibleScores) where sc == bestScore {
            let m = index.members[Int(b)]
            if k < m.count { return Int(m[k]) }
            k -= m.count
        }
        preconditionFailure("the tied buckets hold fewer members than counted")
    }

    /// Exact, per executor: every member of every feasible bucket scored.
    private func bestOfAll(_ r: PlacementRequest, _ index: CapacityIndex, _ registry: ExecutorRegistry,
                           _ tasks: TaskTable, _ now: Instant, _ slowFilters: Bool) -> Int? {
        var best = -1
        var bestScore = -Double.infinity
        for b in feasibleBuckets {
            let shared = bucketScore(r, index.keys[Int(b)], registry)
            for m in index.members[Int(b)] {
                let e = Int(m)
                if slowFilters && affinityRejection(r, e, registry, tasks) != nil {
                    continue
                }
                let sc = shared + reliabilityScore(e, registry, now)
                if sc > bestScore { bestScore = sc; best = e }
            }
        }
        return best < 0 ? nil : best
    }

    /// The best of `k` drawn uniformly (with replacement) from the feasible executors. With
    /// affinity rules a draw can fail them: up to 4k draws are made for k that pass, and when
    /// none passes, every feasible executor is tried (so a feasible executor is always found).
    private mutating func bestOfSample(_ k: Int, _ r: PlacementRequest, _ index: CapacityIndex,
                                       _ registry: ExecutorRegistry, _ tasks: TaskTable, _ now: Instant,
                                       _ slowFilters: Bool) -> Int? {
        var best = -1
        var bestScore = -Double.infinity
        var found = 0, drawn = 0
        while found < k && drawn < 4 * k {
            drawn += 1
            let (e, b) = feasibleMember(Int(sampleDraw() % UInt64(feasibleTotal)), index)
            if slowFilters && affinityRejection(r, e, registry, tasks) != nil {
                continue
            }
            found += 1
            let sc = bucketScore(r, index.keys[b], registry) + reliabilityScore(e, registry, now)
            if sc > bestScore { bestScore = sc; best = e }
        }
        if best < 0 { return bestOfAll(r, index, registry, tasks, now, slowFilters) }
        return best
    }

    /// The `p`-th member (from 0) of the feasible buckets taken in order, and its bucket.
    private func feasibleMember(_ p: Int, _ index: CapacityIndex) -> (executor: Int, bucket: Int) {
        var p = p
        for b in feasibleBuckets {
            let m = index.members[Int(b)]
            if p < m.count { return (Int(m[p]), Int(b)) }
            p -= m.count
        }
        preconditionFailure("a feasible member past the feasible buckets")
    }

    /// The sampler's own deterministic stream (SplitMix64): sampling needs no seeded source
    /// of the plane's and moves no other policy's draws.
    private mutating func sampleDraw() -> UInt64 { splitMix64(&sampleState) }

    /// A uniformly random feasible executor other than `excluding`, drawn from the plane's
    /// random source: exact over the feasible buckets; with affinity rules, drawn again up to
    /// 32 times, then drawn from an exact list of those that pass.
    private func randomFeasible(_ r: PlacementRequest, _ index: CapacityIndex, _ registry: ExecutorRegistry,
                                _ tasks: TaskTable, _ slowFilters: Bool, excluding: Int) -> Int? {
        guard let random else { preconditionFailure("a random placement policy needs the plane's random source") }
        func passes(_ e: Int) -> Bool {
            e != excluding && (!slowFilters
                || affinityRejection(r, e, registry, tasks) == nil)
        }
        if !slowFilters {
            // Exactly uniform over the others: draw among total − 1 and step over `excluding`.
            let excludedHere = excluding >= 0 && feasibleBuckets.contains(Int32(index.bucket(of: excluding)))
            let n = feasibleTotal - (excludedHere ? 1 : 0)
            guard n > 0 else { return nil }
            var p = Int(random.next() % UInt64(n))
            if excludedHere && p >= positionAmongFeasible(excluding, index) { p += 1 }
            return feasibleMember(p, index).executor
        }
        for _ in 0..<32 {
            let (e, _) = feasibleMember(Int(random.next() % UInt64(feasibleTotal)), index)
            if passes(e) { return e }
        }
        var passing: [Int] = []
        for b in feasibleBuckets { for m in index.members[Int(b)] where passes(Int(m)) { passing.append(Int(m)) } }
        guard !passing.isEmpty else { return nil }
        return passing[Int(random.next() % UInt64(passing.count))]
    }

    // MARK: Executors that hold work (preemption, rebalancing)

    /// Collects, into `holderBuckets`, the buckets of online executors holding work that
    /// could take the request once some of that work goes: labels and tenant allow it, the
    /// request fits their whole capacity, and they run something below `priority`. Returns
    /// how many executors those buckets hold. `prepare(r, …)` must have run.
    mutating func gatherHolders(_ r: PlacementRequest, _ registry: ExecutorRegistry, runningBelow priority: Int) -> Int {
        holderBuckets.removeAll(keepingCapacity: true)
        holderTotal = 0
        holderLowest = .max
        let work = registry.work
        let fits = labelFit[r.agent.index]
        for c in work.active.indices where c < fits.count && fits[c] == 1 {
            for b in work.active[c] {
                let key = work.keys[Int(b)]
                guard Int(key.lowestPriority) < priority, !key.exclusive || key.owner == r.tenant,
                      Self.resourceRejection(r.requires, used: .zero, capacity: key.capacity) == nil else { continue }
                holderBuckets.append(b)
                holderTotal += work.members[Int(b)].count
                holderLowest = min(holderLowest, key.lowestPriority)
            }
        }
        return holderTotal
    }

    /// How many of the gathered executors to try, drawn at random: nil to try them all (as
    /// `all` does, and every policy when it gathered no more than it would draw), else the
    /// policy's sample size (`adaptive` 128, `sample(k)` k, `powerOfTwo` 2, `random` 1).
    func holderDraws() -> Int? {
        let k: Int
        switch policy.candidates {
        case .all: return nil
        case .adaptive: k = SchedulerPolicy.adaptiveSample
        case .sample(let n): k = max(1, n)
        case .powerOfTwo: k = 2
        case .random: k = 1
        }
        return holderTotal > k ? k : nil
    }

    /// A gathered executor, drawn uniformly (with replacement) on the sampler's own stream.
    mutating func drawHolder(_ registry: ExecutorRegistry) -> Int {
        var p = Int(sampleDraw() % UInt64(holderTotal))
        for b in holderBuckets {
            let m = registry.work.members[Int(b)]
            if p < m.count { return Int(m[p]) }
            p -= m.count
        }
        preconditionFailure("a holder past the gathered buckets")
    }

    /// Where executor `e` stands in the order `feasibleMember` counts.
    private func positionAmongFeasible(_ e: Int, _ index: CapacityIndex) -> Int {
        var p = 0
        let home = Int32(index.bucket(of: e))
        for b in feasibleBuckets {
            if b == home { return p + index.position(of: e) }
            p += index.members[Int(b)].count
        }
        preconditionFailure("executor \(e) is not among the feasible")
    }
}

/// Where the plane's random choices come from. The simulator passes a seeded GSL stream
/// (one stream for this purpose alone); the live service a seeded stream of its own.
public protocol PlaneRandomSource: AnyObject {
    /// The next 64 uniformly random bits.
    func next() -> UInt64
}
