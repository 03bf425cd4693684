/// Queued tasks, in one FIFO per placement class: the tasks of one agent, tenant and
/// priority, which all need the same resources and pass the same filters.
///
/// Once the head of a class cannot be placed none behind it can either, so a placement pass
/// tries only heads and skips a class whose head failed: a pass costs what it places. Across
/// classes the next head is chosen by priority (higher first), then by tenant fair share
/// (the tenant using least capacity for its weight), then by submission order.
struct PlacementQueue {
    struct Class {
        let agent: AgentID
        let tenant: TenantID
        let priority: Int8
        var tasks = FIFO<(seq: UInt64, task: TaskID)>()
    }

    private(set) var classes: [Class] = []
    private var classIndex: [Int64: Int] = [:]
    private var nextSeq: UInt64 = 0
    private(set) var count = 0

    private static func key(_ agent: AgentID, _ tenant: TenantID, _ priority: Int8) -> Int64 {
        Int64(agent.rawValue) << 32 | Int64(tenant.rawValue) << 8 | Int64(UInt8(bitPattern: priority))
    }

    /// The classes of each agent (a short list: an agent's tasks come from a few tenants at a
    /// few priorities), searched before the dictionary, which every submission would hash.
    private var classesOfAgent: [[Int32]] = []

    /// The class of (agent, tenant, priority), created empty if new.
    mutating func classOf(_ agent: AgentID, _ tenant: TenantID, _ priority: Int8) -> Int {
        let a = agent.index
        if a < classesOfAgent.count {
            for c in classesOfAgent[a] where classes[Int(c)].tenant == tenant && classes[Int(c)].priority == priority {
                return Int(c)
            }
        }
        let k = Self.key(agent, tenant, priority)
        let c: Int
        if let known = classIndex[k] {
            c = known
        } else {
            classes.append(Class(agent: agent, tenant: tenant, priority: priority))
            c = classes.count - 1
            classIndex[k] = c
        }
        while classesOfAgent.count <= a { classesOfAgent.append([]) }
        if classesOfAgent[a].count < 8 { classesOfAgent[a].append(Int32(c)) }
        return c
    }

    mutating func append(_ task: TaskID, toClass c: Int) {
        classes[c].tasks.append((nextSeq, task))
        nextSeq += 1
        count += 1
    }

    func isEmpty(_ c: Int) -> Bool { classes[c].tasks.isEmpty }

    /// The class whose head goes next, skipping `blocked` classes: highest priority, then the
    /// tenant with the least running work per unit of weight, then the oldest head.
    func nextClass(skipping blocked: [Bool], tenantLoad: (TenantID) -> Double) -> Int? {
        var best = -1
        var bestPriority = Int8.min, bestLoad = 0.0, bestSeq = UInt64.max
        for c in classes.indices where !blocked[c] {
            guard let head = classes[c].tasks.first else { continue }
            let p = classes[c].priority
            if best >= 0 && p < bestPriority { continue }
            let load = tenantLoad(classes[c].tenant)
            if best < 0 || p > bestPriority || load < bestLoad || (load == bestLoad && head.seq < bestSeq) {
                best = c
                bestPriority = p
                bestLoad = load
                bestSeq = head.seq
            }
        }
        return best < 0 ? nil : best
    }

    func head(_ c: Int) -> TaskID? { classes[c].tasks.first?.task }

    /// Takes `task` out of its class wherever it stands (a cancellation); false if absent.
    mutating func remove(_ task: TaskID, fromClass c: Int) -> Bool {
        let before = classes[c].tasks.count
        var kept = FIFO<(seq: UInt64, task: TaskID)>()
        while !classes[c].tasks.isEmpty {
            let e = classes[c].tasks.removeFirst()
            if e.task != task { kept.append(e) }
        }
        classes[c].tasks = kept
        count -= before - kept.count
        return kept.count < before
    }

    mutating func removeHead(_ c: Int) {
        classes[c].tasks.removeFirst()
        count -= 1
    }
}
