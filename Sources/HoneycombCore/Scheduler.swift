/// How the scheduler weighs candidate executors and how many it looks at.
public struct SchedulerPolicy: Hashable, Sendable {
    /// How many feasible executors to score for one placement.
    public enum Candidates: Hashable, Sendable {
        /// Score every feasible executor: exact, slowest on a large fleet.
        case all
        /// Stop after this many feasible executors (at least 1).
        case first(Int)
        /// Score max(100, 5 %) of the schedulable executors, as kube-scheduler's
        /// `percentageOfNodesToScore` does for large clusters.
        case adaptive
    }

    /// Weight of the bin-pack score: prefer the executor that is fullest after placement.
    public var binpack: Double
    /// Weight of the least-loaded score: prefer the executor that is emptiest after placement.
    public var leastLoaded: Double
    public var candidates: Candidates

    public init(binpack: Double = 0, leastLoaded: Double = 1, candidates: Candidates = .adaptive) {
        self.binpack = binpack
        self.leastLoaded = leastLoaded
        self.candidates = candidates
    }
}

/// The placement pipeline: filter (free capacity, labels) → score → pick.
///
/// Candidates are scanned from a cursor that moves on after every placement, so that equal
/// scores spread over the fleet instead of piling onto the lowest id, and so that a sampled
/// scan sees different executors each time, deterministically.
struct Scheduler: Sendable {
    var policy: SchedulerPolicy
    private var cursor = 0
    /// Label feasibility per (agent, label class): 1 fits, 2 does not.
    private var labelFit: [[UInt8]] = []

    init(policy: SchedulerPolicy) { self.policy = policy }

    /// The best executor for one task of `agent`, or `nil` when no schedulable executor fits.
    mutating func pick(for agent: AgentID, _ definition: AgentDefinition,
                       in registry: ExecutorRegistry) -> ExecutorID? {
        let members = registry.schedulable.members
        let n = members.count
        guard n > 0 else { return nil }
        if agent.index >= labelFit.count {
            labelFit.append(contentsOf: repeatElement([], count: agent.index + 1 - labelFit.count))
        }
        let limit: Int
        switch policy.candidates {
        case .all: limit = n
        case .first(let k): limit = max(1, k)
        case .adaptive: limit = max(100, n / 20)
        }
        let needs = definition.requires
        let wantsLabels = !definition.requiredLabels.labels.isEmpty
        if wantsLabels { refreshLabelFit(agent, definition, registry) }
        let scoring = policy.binpack != 0 || policy.leastLoaded != 0
        var pos = cursor % n
        var best = -1
        var bestScore = -Double.infinity
        var found = 0
        var scanned = 0
        // The hot loop of every placement: flat buffers, no copies, no reference counting.
        members.withUnsafeBufferPointer { members in
        registry.capacity.withUnsafeBufferPointer { capacity in
        registry.used.withUnsafeBufferPointer { used in
        registry.labelClass.withUnsafeBufferPointer { labelClass in
        labelFit[agent.index].withUnsafeBufferPointer { fits in
            while scanned < n && found < limit {
                let e = Int(members[pos])
                pos += 1
                if pos == n { pos = 0 }
                scanned += 1
                let cap = capacity[e]
                let after = used[e] + needs
                guard after.fits(in: cap) else { continue }
                if wantsLabels && fits[Int(labelClass[e])] != 1 { continue }
                found += 1
                guard scoring else { best = e; break }
                let u = utilization(after, of: cap)
                let score = policy.binpack * u + policy.leastLoaded * (1 - u)
                if score > bestScore { bestScore = score; best = e }
            }
        }}}}}
        cursor = pos
        return best < 0 ? nil : ExecutorID(best)
    }

    /// Mean fraction used over the dimensions the executor offers.
    private func utilization(_ used: Resources, of cap: Resources) -> Double {
        var sum = 0.0
        var dims = 0.0
        if cap.cpuMillis > 0 { sum += Double(used.cpuMillis) / Double(cap.cpuMillis); dims += 1 }
        if cap.memoryBytes > 0 { sum += Double(used.memoryBytes) / Double(cap.memoryBytes); dims += 1 }
        if cap.slots > 0 { sum += Double(used.slots) / Double(cap.slots); dims += 1 }
        return dims > 0 ? sum / dims : 0
    }

    /// Brings the agent's row of label verdicts up to date with the registry's label classes
    /// (there are few: executors of one pool share one).
    private mutating func refreshLabelFit(_ agent: AgentID, _ definition: AgentDefinition,
                                          _ registry: ExecutorRegistry) {
        let a = agent.index
        let classes = registry.labelClasses
        guard labelFit[a].count < classes.count else { return }
        for k in labelFit[a].count..<classes.count {
            labelFit[a].append(classes[k].satisfies(definition.requiredLabels) ? 1 : 2)
        }
    }
}

/// Queued tasks, FIFO within each agent and in submission order across agents.
///
/// Tasks of one agent need the same resources and labels, so once the head of an agent's
/// queue cannot be placed none behind it can either: a placement pass tries only heads and
/// skips an agent whose head failed, which keeps a pass proportional to what it places.
struct PlacementQueue: Sendable {
    private var perAgent: [FIFO<(seq: UInt64, task: TaskID)>] = []
    private var nextSeq: UInt64 = 0
    private(set) var count = 0

    mutating func append(_ task: TaskID, agent: AgentID) {
        let a = agent.index
        if a >= perAgent.count { perAgent.append(contentsOf: repeatElement(FIFO(), count: a + 1 - perAgent.count)) }
        perAgent[a].append((nextSeq, task))
        nextSeq += 1
        count += 1
    }

    func isEmpty(agent: AgentID) -> Bool { agent.index >= perAgent.count || perAgent[agent.index].isEmpty }

    var agentCount: Int { perAgent.count }

    /// The agent whose head was queued first, skipping `blocked` agents.
    func oldestHead(skipping blocked: [Bool]) -> (agent: AgentID, task: TaskID)? {
        var best: (seq: UInt64, agent: Int, task: TaskID)?
        for a in perAgent.indices where !blocked[a] {
            guard let head = perAgent[a].first else { continue }
            if best == nil || head.seq < best!.seq { best = (head.seq, a, head.task) }
        }
        return best.map { (AgentID($0.agent), $0.task) }
    }

    mutating func removeHead(agent: AgentID) {
        perAgent[agent.index].removeFirst()
        count -= 1
    }
}
