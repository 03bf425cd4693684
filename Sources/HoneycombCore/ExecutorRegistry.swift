/// What an executor reports about itself when it registers.
public struct ExecutorSpec: Hashable, Sendable {
    public var labels: LabelSet
    public var capacity: Resources
    /// The tenant whose machine it is (`shared` for fleet-owned executors).
    public var owner: TenantID
    /// Only its owner's tasks may run on it.
    public var exclusive: Bool
    /// The LLMs it serves itself.
    public var localModels: [LocalModel]

    public init(labels: LabelSet, capacity: Resources, owner: TenantID = .shared, exclusive: Bool = false,
                localModels: [LocalModel] = []) {
        self.labels = labels
        self.capacity = capacity
        self.owner = owner
        self.exclusive = exclusive
        self.localModels = localModels
    }
}

/// The plane's view of an executor's presence.
public enum ExecutorState: UInt8, Sendable, CustomStringConvertible {
    /// Never registered.
    case unknown
    /// Heartbeating and accepting tasks.
    case online
    /// Heartbeating, finishing what it runs, accepting nothing new.
    case draining
    /// Stopped heartbeating for longer than the timeout; must register again.
    case lost
    /// Deregistered on purpose; may register again.
    case left

    public var description: String {
        switch self {
        case .unknown: "unknown"
        case .online: "online"
        case .draining: "draining"
        case .lost: "lost"
        case .left: "left"
        }
    }
}

/// The real-time registry of executors: presence, capacity, reservations and the tasks each
/// one holds.
///
/// Kept as parallel arrays indexed by `ExecutorID`, so the scheduler's scan reads only flat
/// trivially-copyable data. Executors with the same labels share one interned label class, and
/// those alike in the labels placement reads one placement class.
public struct ExecutorRegistry: Sendable {
    /// What the heartbeat and liveness paths read and write of an executor, in one 24-byte
    /// record: on a fleet too big for the caches a heartbeat then costs one cache miss, not
    /// one per array.
    struct Presence: Sendable {
        var lastHeartbeat: Instant
        /// Bumped on every registration, so that timers and messages of an earlier life of
        /// the executor are recognised as stale.
        var incarnation: UInt32
        /// Its neighbours in the silence order (see `longestSilent`), or -1.
        var heardBefore: Int32
        var heardAfter: Int32
        var state: ExecutorState
    }
    private(set) var presence: [Presence] = []
    /// The present executors (online or draining) in the order they were last heard from,
    /// the longest silent first: a list threaded through `presence`. Each word heard moves
    /// its executor to the end in O(1), and the plane needs a single liveness timer for the
    /// fleet, at the deadline of the list's first, instead of one per executor.
    private var silenceHead: Int32 = -1
    private var silenceTail: Int32 = -1
    /// The latest instant an executor was heard at. A word is stamped no earlier: should a
    /// live clock step back, its executor is taken as heard at that instant (its deadline
    /// is at most the step later), so that the silence order stays the order of the stamps
    /// and a move stays O(1), where an ordered insert would walk the list.
    private var latestHeard = Instant.zero
    public private(set) var capacity: [Resources] = []
    public private(set) var used: [Resources] = []
    /// Index into `labelClasses` for each executor.
    private(set) var labelClass: [Int32] = []
    /// The distinct label sets seen, in first-seen order.
    public private(set) var labelClasses: [LabelSet] = []
    private var labelClassIndex: [LabelSet: Int32] = [:]
    /// The label keys placement reads (agents' selectors, the spread label, `site` and
    /// `region` for locality), sorted. An executor's labels cut down to them are its
    /// placement class: executors whose labels differ only in keys nothing reads (a hostname,
    /// a user name) share one, so that the classes — and the capacity index's buckets —
    /// number the fleet's shapes, not its executors.
    public private(set) var placementKeys: [String] = ["region", "site"]
    /// The distinct cut-down label sets, in first-seen order.
    public private(set) var placementClasses: [LabelSet] = []
    private var placementClassIndex: [LabelSet: Int32] = [:]
    /// The placement class of each label class.
    private var placementClassOfLabels: [Int32] = []
    /// Each executor's placement class (an index into `placementClasses`).
    private(set) var placementClass: [Int32] = []
    /// The owner of each executor, and whether only the owner's tasks may use it.
    public private(set) var owner: [TenantID] = []
    public private(set) var exclusive: [Bool] = []
    /// When each executor's current registration began (for the reliability score).
    public private(set) var onlineSince: [Instant] = []
    /// Tasks whose current attempt is on each executor (dispatched or running).
    private(set) var assigned: [[TaskID]] = []
    /// Executors that are online and have at least one free slot, the scheduler's candidates,
    /// bucketed by what placement reads of them.
    private(set) var index = CapacityIndex()
    /// Online executors that hold work, bucketed by what preemption and rebalancing read of
    /// them (including the lowest priority each runs), when the policy may evict or move
    /// running tasks (`tracksWork`); empty otherwise, and not kept.
    private(set) var work = BucketIndex<WorkKey>()
    /// The priority of each task in `assigned`, in the same order (kept with `work`).
    private var assignedPriority: [[Int8]] = []
    /// Keep `work`: set once, before the first registration, by a plane whose policy preempts
    /// or rebalances.
    var tracksWork = false
    /// How many executors are online or draining.
    public private(set) var presentCount = 0

    public init() {}

    /// How many executor ids the registry has seen.
    public var count: Int { presence.count }

    /// The tasks whose current attempt is on `id`, in assignment order.
    public func tasks(on id: ExecutorID) -> [TaskID] { id.index < assigned.count ? assigned[id.index] : [] }

    /// The state of `id` (`unknown` for an id never seen).
    public func state(of id: ExecutorID) -> ExecutorState { id.index < presence.count ? presence[id.index].state : .unknown }

    /// When `id` was last heard from (registered, heartbeat, drain).
    public func lastHeartbeat(of id: ExecutorID) -> Instant { presence[id.index].lastHeartbeat }

    /// The present executor silent the longest (heard from least recently; of those heard at
    /// one instant, the first heard), or nil when none is present.
    public var longestSilent: ExecutorID? { silenceHead < 0 ? nil : ExecutorID(Int(silenceHead)) }

    /// How many times `id` has registered.
    public func incarnation(of id: ExecutorID) -> UInt32 { presence[id.index].incarnation }

    /// The labels `id` registered with.
    public func labels(of id: ExecutorID) -> LabelSet { labelClasses[Int(labelClass[id.index])] }

    /// Records a registration (first or again). The caller must already have released what
    /// an earlier incarnation held.
    mutating func register(_ id: ExecutorID, _ spec: ExecutorSpec, at now: Instant) {
        let i = id.index
        if i >= presence.count {
            let n = i + 1 - presence.count
            presence.append(contentsOf: repeatElement(Presence(lastHeartbeat: .zero, incarnation: 0, heardBefore: -1, heardAfter: -1, state: .unknown), count: n))
            capacity.append(contentsOf: repeatElement(.zero, count: n))
            used.append(contentsOf: repeatElement(.zero, count: n))
            labelClass.append(contentsOf: repeatElement(-1, count: n))
            placementClass.append(contentsOf: repeatElement(-1, count: n))
            owner.append(contentsOf: repeatElement(.shared, count: n))
            exclusive.append(contentsOf: repeatElement(false, count: n))
            onlineSince.append(contentsOf: repeatElement(.zero, count: n))
            assigned.append(contentsOf: repeatElement([], count: n))
            if tracksWork { assignedPriority.append(contentsOf: repeatElement([], count: n)) }
        }
        precondition(assigned[i].isEmpty, "an executor registers again while it still holds tasks")
        if isPresent(presence[i].state) { unlinkSilence(i) } else { presentCount += 1 }
        presence[i].state = .online
        capacity[i] = spec.capacity
        used[i] = .zero
        presence[i].lastHeartbeat = stamp(now)
        appendSilence(i)
        onlineSince[i] = now
        presence[i].incarnation &+= 1
        owner[i] = spec.owner
        exclusive[i] = spec.exclusive
        labelClass[i] = internLabels(spec.labels)
        placementClass[i] = placementClassOfLabels[Int(labelClass[i])]
        refreshSchedulable(i)
    }

    /// `id` was heard from at `now` (stamped no earlier than the latest word heard).
    mutating func heartbeat(_ id: ExecutorID, at now: Instant) {
        let i = id.index
        presence[i].lastHeartbeat = stamp(now)
        guard isPresent(presence[i].state), Int32(i) != silenceTail else { return }
        unlinkSilence(i)
        appendSilence(i)
    }

    private mutating func stamp(_ now: Instant) -> Instant {
        latestHeard = max(latestHeard, now)
        return latestHeard
    }

    /// Sets when each of `heard` was last heard from (none later than the latest word
    /// heard), then sorts the silence order once: a restore, whose executors' last words come
    /// in no order. Ties keep id order.
    mutating func setLastHeard(_ heard: [(ExecutorID, Instant)]) {
        for (id, at) in heard { presence[id.index].lastHeartbeat = min(at, latestHeard) }
        var order: [Int32] = []
        var i = silenceHead
        while i >= 0 {
            order.append(i)
            i = presence[Int(i)].heardAfter
        }
        order.sort { a, b in
            let (ta, tb) = (presence[Int(a)].lastHeartbeat, presence[Int(b)].lastHeartbeat)
            return ta != tb ? ta < tb : a < b
        }
        silenceHead = -1
        silenceTail = -1
        for i in order { appendSilence(Int(i)) }
    }

    /// Puts present executor `i` last in the silence order: it was heard from last.
    private mutating func appendSilence(_ i: Int) {
        presence[i].heardBefore = silenceTail
        presence[i].heardAfter = -1
        if silenceTail < 0 { silenceHead = Int32(i) } else { presence[Int(silenceTail)].heardAfter = Int32(i) }
        silenceTail = Int32(i)
    }

    private mutating func unlinkSilence(_ i: Int) {
        let (before, after) = (presence[i].heardBefore, presence[i].heardAfter)
        if before < 0 { silenceHead = after } else { presence[Int(before)].heardAfter = after }
        if after < 0 { silenceTail = before } else { presence[Int(after)].heardBefore = before }
        presence[i].heardBefore = -1
        presence[i].heardAfter = -1
    }

    /// The state each executor was in before it was declared lost (to restore it if it
    /// recovers within its leases).
    private(set) var stateBeforeLoss: [ExecutorState] = []

    /// Moves a present executor to `newState` (draining, lost or left), or a lost one back.
    mutating func transition(_ id: ExecutorID, to newState: ExecutorState) {
        let i = id.index
        if newState == .lost {
            while stateBeforeLoss.count <= i { stateBeforeLoss.append(.unknown) }
            stateBeforeLoss[i] = presence[i].state
        }
        if isPresent(presence[i].state) && !isPresent(newState) {
            presentCount -= 1
            unlinkSilence(i)
        }
        if !isPresent(presence[i].state) && isPresent(newState) {
            precondition(presence[i].lastHeartbeat == latestHeard, "\(id) comes back without being heard first")
            presentCount += 1
            appendSilence(i)
        }
        presence[i].state = newState
        refreshSchedulable(i)
    }

    mutating func reserve(_ requires: Resources, for task: TaskID, priority: Int8, on id: ExecutorID) {
        let i = id.index
        used[i] = used[i] + requires
        assigned[i].append(task)
        if tracksWork { assignedPriority[i].append(priority) }
        refreshSchedulable(i)
    }

    mutating func release(_ requires: Resources, for task: TaskID, on id: ExecutorID) {
        let i = id.index
        used[i] = used[i] - requires
        if let k = assigned[i].firstIndex(of: task) {
            assigned[i].remove(at: k)
            if tracksWork { assignedPriority[i].remove(at: k) }
        }
        refreshSchedulable(i)
    }

    /// A word of no meaning read from each table that `release` and `refreshSchedulable`
    /// read of executor `i` (see `ControlPlane.readAhead`).
    func readAhead(_ i: Int) -> UInt32 {
        guard i >= 0, i < presence.count else { return 0 }
        return presence[i].incarnation ^ UInt32(truncatingIfNeeded: used[i].slots ^ capacity[i].slots)
            ^ UInt32(bitPattern: placementClass[i] ^ owner[i].rawValue) ^ (exclusive[i] ? 1 : 0)
            ^ UInt32(truncatingIfNeeded: assigned[i].count) ^ index.readAhead(i)
    }

    private func isPresent(_ s: ExecutorState) -> Bool { s == .online || s == .draining }

    /// Moves executor `i` to the buckets its state, usage and work now call for.
    private mutating func refreshSchedulable(_ i: Int) {
        let online = presence[i].state == .online
        if tracksWork {
            work.update(i, online && !assigned[i].isEmpty
                ? WorkKey(labelClass: placementClass[i], owner: owner[i], exclusive: exclusive[i], capacity: capacity[i],
                          lowestPriority: assignedPriority[i].min()!)
                : nil)
        }
        guard online && used[i].slots < capacity[i].slots else { return index.update(i, nil) }
        index.update(i, CapacityKey(labelClass: placementClass[i], owner: owner[i], exclusive: exclusive[i],
                                    capacity: capacity[i], used: used[i]))
    }

    private mutating func internLabels(_ labels: LabelSet) -> Int32 {
        if let k = labelClassIndex[labels] { return k }
        let k = Int32(labelClasses.count)
        labelClasses.append(labels)
        labelClassIndex[labels] = k
        placementClassOfLabels.append(internPlacement(labels))
        return k
    }

    /// The placement class of a label set: its labels of `placementKeys` alone.
    private mutating func internPlacement(_ labels: LabelSet) -> Int32 {
        let cut = LabelSet(labels.labels.filter { placementKeys.contains($0.key) })
        if let k = placementClassIndex[cut] { return k }
        let k = Int32(placementClasses.count)
        placementClasses.append(cut)
        placementClassIndex[cut] = k
        return k
    }

    /// Makes placement read `keys` too. When one is new, every executor's placement class is
    /// made again and the indexes rebuilt (linear in the fleet, once per new key: an agent
    /// whose selector names a label nothing read before). Returns whether the classes changed.
    mutating func readLabelKeys(_ keys: some Sequence<String>) -> Bool {
        let new = Set(keys).subtracting(placementKeys)
        guard !new.isEmpty else { return false }
        placementKeys = (placementKeys + new).sorted()
        placementClasses = []
        placementClassIndex = [:]
        placementClassOfLabels = []
        for labels in labelClasses { placementClassOfLabels.append(internPlacement(labels)) }
        index = CapacityIndex()
        work = BucketIndex<WorkKey>()
        for i in 0..<count where labelClass[i] >= 0 {
            placementClass[i] = placementClassOfLabels[Int(labelClass[i])]
            refreshSchedulable(i)
        }
        return true
    }
}
