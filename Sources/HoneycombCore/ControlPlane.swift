/// Settings of the control plane that a scenario's `policy` (or live configuration) sets.
public struct PlaneConfig: Hashable, Sendable {
    /// An executor silent for this long is declared lost.
    public var heartbeatTimeout: TimeSpan
    /// Delay before the first retry; doubles with each further attempt.
    public var retryBackoff: TimeSpan
    /// The longest delay between attempts.
    public var retryBackoffMax: TimeSpan
    /// How long a running task's lease outlives its executor's last heartbeat. An executor
    /// declared lost keeps its tasks until their leases expire: if it speaks again before
    /// then (it was cut off, not dead) it is taken back with its work intact, and nothing
    /// runs twice; only at expiry are its tasks rescheduled. Nil: at once.
    public var lease: TimeSpan?
    /// How long a dispatched attempt may wait for its executor's start report before the plane
    /// takes it back (it stops it there and places the task again, as after a loss, without
    /// charging the attempt against `maxAttempts`). Nil: forever (the simulator's executors
    /// always answer).
    public var startTimeout: TimeSpan?
    public var scheduler: SchedulerPolicy
    /// Tenants by `TenantID` (index 0 is `TenantID.shared`).
    public var tenants: [TenantPolicy]
    /// The LLM catalog, clouds and budgets the router works with.
    public var llm: LLMRouterConfig
    /// A bug planted on purpose, for the fuzzer's self-test only (`honeycomb fuzz --plant`):
    /// it must find it. Nil everywhere else.
    public var plantedBug: PlantedBug?

    /// Bugs the fuzzer must be able to find.
    public enum PlantedBug: String, Hashable, Sendable, CaseIterable {
        /// Reports count for whatever attempt is under way, even from an older attempt or
        /// another executor.
        case staleReportsAccepted = "stale-reports"
        /// A rebuild forgets the LLM router's ledger: every failover hands out each budget
        /// and each minute's requests again.
        case rebuildForgetsLLMLedger = "forget-llm-ledger"
        /// (The live driver's.) A rebuild keeps the idempotency keys of batches that were in
        /// flight: a retry of a key whose batch never landed is answered with a task never stored.
        case rebuildKeepsKeysInFlight = "keep-keys-in-flight"
    }

    public init(heartbeatTimeout: TimeSpan = .seconds(30), retryBackoff: TimeSpan = .seconds(1),
                retryBackoffMax: TimeSpan = .seconds(60), lease: TimeSpan? = nil, startTimeout: TimeSpan? = nil,
                scheduler: SchedulerPolicy = SchedulerPolicy(),
                tenants: [TenantPolicy] = [TenantPolicy(name: "shared")], llm: LLMRouterConfig = LLMRouterConfig()) {
        self.heartbeatTimeout = heartbeatTimeout
        self.retryBackoff = retryBackoff
        self.retryBackoffMax = retryBackoffMax
        self.lease = lease
        self.startTimeout = startTimeout
        self.scheduler = scheduler
        self.tenants = tenants
        self.llm = llm
    }

    /// The wait before attempt `attempt + 1`, after attempt `attempt` (from 1) ended badly.
    public func backoff(after attempt: Int) -> TimeSpan {
        var delay = retryBackoff
        var k = 1
        while k < attempt && delay < retryBackoffMax { delay = delay * 2; k += 1 }
        return min(delay, retryBackoffMax)
    }
}

/// Everything that can happen to the control plane.
///
/// The rare inputs with large payloads (a registration, a published agent, a snapshot) are
/// boxed, so that the frequent ones (heartbeats and task reports) move a few words, not the
/// size of the largest.
public enum PlaneInput: Sendable {
    /// An executor registers, for the first time or again after leaving, crashing or being
    /// declared lost. Whatever an earlier life of it held is lost.
    indirect case executorRegistered(ExecutorID, ExecutorSpec)
    /// Answered `.reregister` when the plane had given the executor up.
    case executorHeartbeat(ExecutorID)
    /// The executor will take nothing new and leaves once its tasks end.
    case executorDraining(ExecutorID)
    /// The executor deregisters; anything it still held is lost.
    case executorLeft(ExecutorID)
    case taskSubmitted(TaskSpec)
    /// The executor reports that it began the attempt. Answered `.stale` unless the attempt is
    /// the task's current one on that executor: then it must not run it.
    case taskStarted(TaskID, attempt: UInt16, on: ExecutorID)
    /// The attempt ended well, as its executor reports (`.stale` as for `taskStarted`).
    case taskSucceeded(TaskID, attempt: UInt16, on: ExecutorID)
    /// The attempt ended badly, as its executor reports (`.stale` as for `taskStarted`).
    case taskFailed(TaskID, attempt: UInt16, on: ExecutorID)
    /// The task is withdrawn: it ends as `cancelled`, and an attempt under way is stopped.
    /// Answered with the task's state after it (`.unknownTask` for an id never seen).
    case taskCancelled(TaskID)
    /// A new agent version: answered with its id (an existing name and version keeps its
    /// definition and id, and changes nothing).
    indirect case agentPublished(AgentDefinition)
    /// The state a store last knew, fed to a fresh plane rebuilding it (the live service after
    /// a restart or failover). The plane chooses the order in which it takes it back.
    indirect case restored(PlaneSnapshot)
    /// A timer the plane asked for has come due.
    case timerFired(PlaneTimer)
    /// An agent asks where an LLM call should go: answered `.routed` (reserving what the
    /// decision needs until the call is completed), or `.unknownExecutor`.
    case llmRouteRequested(LLMRequest)
    /// A routed call ended, as the executor that asked for it reports: answered `.settled`
    /// with its cost, or `.unknownCall` when no such call of that executor is open.
    case llmCompleted(Int64, LLMOutcome, reportedBy: ExecutorID)
    /// A provider's prices changed (US dollars per million input and output tokens).
    case llmPriceChanged(ProviderID, input: Double, output: Double)
}

/// The plane's answer to one input, returned by `handle`: what its caller asked for, so
/// that no driver searches the effects for it.
public enum PlaneReply: Hashable, Sendable {
    /// Taken; there is nothing more to say.
    case done
    /// A report about an attempt that is not the task's current one on that executor: the
    /// executor drops it (and does not run it).
    case stale
    /// The executor spoke after the plane gave it up: it must drop its work and register again.
    case reregister
    /// The task's state after the input.
    case task(TaskState)
    case unknownTask
    case unknownExecutor
    /// Where the LLM call goes.
    case routed(LLMDecision)
    /// The call was settled: what it cost, in micro-dollars.
    case settled(costMicroUSD: Int64)
    case unknownCall
    /// The agent version's id in the plane.
    case agent(AgentID)
}

/// What a store last knew of the plane: its agents, the executors it last saw online, and
/// the tasks not yet ended. Agent `k` of `agents` becomes `AgentID(k)`.
public struct PlaneSnapshot: Sendable {
    /// An executor the store last saw `online` or `draining`, or `lost` while it still holds
    /// attempts (within their leases).
    public struct Executor: Sendable {
        public var id: ExecutorID
        public var spec: ExecutorSpec
        public var state: ExecutorState
        /// When a plane last heard from it (nil: not known, counted from the restore).
        public var lastHeard: Instant?
        public init(id: ExecutorID, spec: ExecutorSpec, state: ExecutorState = .online, lastHeard: Instant? = nil) {
            self.id = id
            self.spec = spec
            self.state = state
            self.lastHeard = lastHeard
        }
    }

    /// A task as the store last knew it, in `state` (`queued`, `backoff`, `dispatched` or
    /// `running`): attempt `attempt` on `executor` when dispatched or running, else waiting for
    /// its next attempt (as it also does when `executor` is no longer registered).
    public struct Task: Sendable {
        public var spec: TaskSpec
        public var state: TaskState
        public var attempt: UInt16
        public var executor: ExecutorID?
        public var submittedAt: Instant
        public init(spec: TaskSpec, state: TaskState, attempt: UInt16, executor: ExecutorID?, submittedAt: Instant) {
            self.spec = spec
            self.state = state
            self.attempt = attempt
            self.executor = executor
            self.submittedAt = submittedAt
        }
        var underWay: Bool { state == .dispatched || state == .running }
    }

    public var agents: [AgentDefinition]
    public var executors: [Executor]
    public var tasks: [Task]
    /// The router's budgets, rate-limit windows and open calls.
    public var llm: LLMLedger
    /// Until when the store knows a plane was listening (its last write): silence after it,
    /// while no plane could hear, is not held against an executor.
    public var listeningUntil: Instant?
    public init(agents: [AgentDefinition] = [], executors: [Executor] = [], tasks: [Task] = [], llm: LLMLedger = LLMLedger(),
                listeningUntil: Instant? = nil) {
        self.agents = agents
        self.executors = executors
        self.tasks = tasks
        self.llm = llm
        self.listeningUntil = listeningUntil
    }

    /// How long the executor had been silent while a plane was listening: what a restore
    /// counts against its heartbeat timeout (and its leases), so that a rebuild grants no
    /// fresh timeout to an executor already silent, and holds no outage of the plane's own
    /// against one that kept calling.
    func silence(of e: Executor, now: Instant) -> TimeSpan {
        guard let heard = e.lastHeard else { return .zero }
        let until = min(listeningUntil ?? now, now)
        return until > heard ? until - heard : .zero
    }
}

/// A timer the plane asks its driver to fire later. Timers are never cancelled: each carries
/// enough to tell, when it fires, whether it still matters.
public enum PlaneTimer: Hashable, Sendable {
    /// Check whose heartbeats stopped: one timer for the fleet (`ControlPlane.armLiveness`).
    case liveness
    /// Requeue the task after the backoff that followed `attempt`.
    case retry(TaskID, attempt: UInt16)
    /// The leases of a lost executor's tasks run out: reschedule whatever it still holds.
    case leaseExpiry(ExecutorID, incarnation: UInt32)
    /// Attempt `attempt` was dispatched `startTimeout` ago: take it back unless it started.
    case startDeadline(TaskID, attempt: UInt16)
    /// The LLM call was routed `LLMRouterConfig.callTimeout` ago: release it unless it ended.
    case llmCallDeadline(Int64)
}

/// Something the plane wants done. Drivers carry effects out in order.
public enum PlaneEffect: Sendable {
    /// Send attempt `attempt` of the task to the executor (the NATS hop, live).
    case dispatch(TaskID, attempt: UInt16, to: ExecutorID)
    /// Stop attempt `attempt` of the task on the executor: it was preempted.
    case preempt(TaskID, attempt: UInt16, on: ExecutorID)
    /// Stop attempt `attempt` of the task on the executor for good: it was cancelled.
    case stop(TaskID, attempt: UInt16, on: ExecutorID)
    case setTimer(PlaneTimer, at: Instant)
    /// The task reached a terminal state.
    case taskEnded(TaskID, TaskState)
    /// An open LLM call was given up without its end being reported (its executor is gone, or
    /// it outlived `LLMRouterConfig.callTimeout`): charged what was reserved, the most it
    /// could have cost, so that budgets hold whatever it really used.
    case llmAbandoned(Int64, costMicroUSD: Int64)
    /// Load the model on the executor ahead of demand (it was too cold to take a call).
    case llmWarmUp(ExecutorID, ModelID)
    /// A call was routed: the store keeps it (with its reservation) until it ends.
    /// (Boxed: the record is several times the size of every other effect.)
    indirect case llmCallOpened(LLMCallRecord)
    /// A call ended (completed or abandoned): what it was charged, and the tokens it keeps in
    /// its provider's rate-limit window.
    case llmCallEnded(Int64, costMicroUSD: Int64, windowTokens: Int)
    case audit(AuditEvent)
}

/// The effects of one input, in the order the plane produced them.
public struct PlaneEffects: Sendable {
    public internal(set) var list: [PlaneEffect] = []
    public init() { list.reserveCapacity(16) }
    @inlinable public var isEmpty: Bool { list.isEmpty }
    mutating func append(_ e: PlaneEffect) { list.append(e) }
    /// Empties the list, keeping its storage for the next input.
    public mutating func removeAll() { list.removeAll(keepingCapacity: true) }
}

/// Tallies the plane keeps of its own decisions.
public struct PlaneCounters: Hashable, Sendable {
    public var dispatched = 0
    public var retried = 0
    /// Attempts lost with their executor and placed again.
    public var rescheduled = 0
    public var preempted = 0
    /// Running tasks moved onto a joining executor to make room for a waiting one.
    public var moved = 0
    public var executorsLost = 0
    /// Reports about an attempt that is no longer current (after a loss, say): ignored.
    public var staleReports = 0
    public var placementPasses = 0

    public init() {}
}

/// The control plane: a synchronous, deterministic state machine.
///
/// Inputs go in with the instant they happened; effects come out. It owns no thread, reads
/// no clock, touches no socket, and iterates nothing in hash order, so the simulator and the
/// live service drive the very same decisions.
///
/// Not `Sendable`: one driver owns it (the simulator's replication, or the live service's
/// actor), together with its random source.
public struct ControlPlane {
    public let config: PlaneConfig
    public internal(set) var executors = ExecutorRegistry()
    public internal(set) var agents = AgentRegistry()
    public internal(set) var tasks = TaskTable()
    public internal(set) var counters = PlaneCounters()
    var scheduler: Scheduler
    var router: LLMRouter
    var queue = PlacementQueue()
    /// Set when capacity may have grown: a placement pass runs before `handle` returns.
    var capacityGrew = false
    /// An executor that joined during this input, for rebalancing.
    var joined: ExecutorID?
    /// When the liveness timer armed last falls due, until it fires (nil: none pending).
    var livenessDue: Instant?
    var blockedScratch: [Bool] = []
    /// Slots held (dispatched or running) per tenant, for fair share.
    var tenantSlots: [Int] = []
    /// Tasks holding slots per priority (indexed by priority + 128), so that preemption is
    /// tried only when something it could evict exists.
    var slotsByPriority = [Int](repeating: 0, count: 256)
    /// Some agent needs to run beside another: then every placement can make a queued task
    /// placeable, and triggers a pass.
    var affinityInUse = false

    /// A plane with its policy and agents. `random` serves the random placement policies
    /// (`powerOfTwo`, `random`); the others never draw.
    public init(config: PlaneConfig = PlaneConfig(), agents: [AgentDefinition] = [],
                random: (any PlaneRandomSource)? = nil) {
        self.config = config
        self.scheduler = Scheduler(policy: config.scheduler, tenants: config.tenants, random: random)
        self.router = LLMRouter(config: config.llm)
        executors.tracksWork = config.scheduler.preemption || config.scheduler.rebalanceMoves > 0
        if let spread = config.scheduler.spreadPolicy { _ = executors.readLabelKeys([spread.label]) }
        for a in agents { register(agent: a) }
    }

    /// Times the router passed a provider over because of its rate limits.
    public var llmRateLimitedSkips: Int { router.rateLimitedSkips }

    /// Placement decisions made so far (successful picks).
    public var placementDecisions: Int { scheduler.decisions }

    /// Adds an agent version (an existing name and version keeps its definition). Drivers
    /// publish through `handle(.agentPublished)`, which audits the change.
    @discardableResult
    mutating func register(agent: AgentDefinition) -> AgentID {
        if !agent.affinity.isEmpty { affinityInUse = true }
        if executors.readLabelKeys(agent.selector.conditions.map(\.key)) { scheduler.placementClassesChanged(executors) }
        return agents.register(agent)
    }

    /// Reads what the plane reads first of a report about `task` on `executor`: the task's
    /// record and the executor's entry in each of the registry's tables. It decides nothing
    /// and changes nothing, and the word it returns means nothing. A driver that knows such a
    /// report is coming calls it ahead, with work of its own to do meanwhile, so that the
    /// plane's cache misses are in flight beside the driver's instead of following them one by
    /// one: on a fleet too big for the caches each of those tables is a miss of its own (the
    /// simulator, at a task's completion).
    public func readAhead(task: TaskID, on executor: ExecutorID) -> UInt32 {
        var word = executors.readAhead(executor.index)
        let t = task.index
        if t >= 0, t < tasks.records.count { word ^= UInt32(tasks.records[t].attempt) }
        return word
    }

    /// How many tasks wait to be placed.
    public var queuedCount: Int { queue.count }

    /// Makes room for `count` tasks in all, so that the task table does not grow (and copy
    /// itself) as they come: a hint from a driver that knows what to expect. Decides nothing.
    public mutating func reserveCapacity(tasks count: Int) { tasks.records.reserveCapacity(count) }

    /// Feeds one input into the plane at `now`, appending what it wants done to `effects`, and
    /// returns its answer.
    @discardableResult
    public mutating func handle(_ input: PlaneInput, at now: Instant, effects: inout PlaneEffects) -> PlaneReply {
        var reply = PlaneReply.done
        switch input {
        case .executorRegistered(let id, let spec): registerExecutor(id, spec, now, &effects)
        case .executorHeartbeat(let id): reply = heartbeat(id, now, &effects)
        case .executorDraining(let id): drain(id, now, &effects)
        case .executorLeft(let id): executorGone(id, as: .left, now, &effects)
        case .taskSubmitted(let spec): submit(spec, now, &effects)
        case .taskStarted(let id, let attempt, let e): reply = started(id, attempt, on: e, now, &effects)
        case .taskSucceeded(let id, let attempt, let e):
            reply = attemptEnded(id, attempt, on: e, succeeded: true, now, &effects)
        case .taskFailed(let id, let attempt, let e):
            reply = attemptEnded(id, attempt, on: e, succeeded: false, now, &effects)
        case .taskCancelled(let id): reply = cancel(id, now, &effects)
        case .agentPublished(let definition): reply = .agent(publish(definition, now, &effects))
        case .restored(let snapshot): restore(snapshot, now, &effects)
        case .timerFired(let timer): fired(timer, now, &effects)
        case .llmRouteRequested(let request): reply = route(request, now, &effects)
        case .llmCompleted(let id, let outcome, let executor):
            reply = router.complete(id, outcome, reportedBy: executor, at: now).map { .settled(costMicroUSD: $0) } ?? .unknownCall
        case .llmPriceChanged(let p, let input, let output):
            router.config.providers[p.index].inputPricePerMillion = input
            router.config.providers[p.index].outputPricePerMillion = output
        }
        placeWhileCapacityGrows(now, &effects)
        for e in router.ended { effects.append(.llmCallEnded(e.id, costMicroUSD: e.cost, windowTokens: e.windowTokens)) }
        router.ended.removeAll()
        return reply
    }

    /// Placing can make room or make more placeable (preemption frees more than it takes,
    /// affinity follows what was placed, rebalancing frees donors): pass until nothing grows.
    mutating func placeWhileCapacityGrows(_ now: Instant, _ effects: inout PlaneEffects) {
        repeat {
            while capacityGrew {
                capacityGrew = false
                if queue.count > 0 { placementPass(now, &effects) }
            }
            if let e = joined {
                joined = nil
                if config.scheduler.rebalanceMoves > 0 && queue.count > 0 { rebalance(onto: e, now, &effects) }
            }
        } while capacityGrew
    }
}
