import HoneycombCore
import HoneycombStats

/// What can happen in the simulated world. Payloads are plain integers so that the event
/// heap holds trivially-copyable entries.
enum WorldEvent {
    case arrival(workload: Int32, generation: UInt32)
    /// One task of a burst, spread over the burst's window.
    case spreadArrival(workload: Int32)
    case dispatchArrives(task: Int32, attempt: UInt16, executor: Int32, incarnation: UInt32)
    case taskCompletes(task: Int32, attempt: UInt16, executor: Int32, incarnation: UInt32)
    /// A message from the executor reaches the plane.
    case deliver(message: Int32, executor: Int32)
    case heartbeat(executor: Int32, incarnation: UInt32)
    /// The end of an executor's uptime (of the session that began with `comeUp`): it crashes or drains.
    case goDown(executor: Int32, session: UInt32)
    /// The end of an executor's downtime: it registers again.
    case comeUp(executor: Int32)
    case partitionHeals(executor: Int32, incarnation: UInt32)
    /// The plane's order to stop a preempted attempt reaches the executor.
    case preemptArrives(task: Int32, attempt: UInt16, executor: Int32, incarnation: UInt32)
    /// Time to sample why tasks wait and how fragmented free capacity is.
    case sample
    /// A running task makes one of its LLM calls.
    case llmCall(task: Int32, attempt: UInt16, executor: Int32)
    /// An LLM call ends (successfully or not).
    case llmDone(call: Int64)
    case planeTimer(PlaneTimer)
    case scenarioEvent(index: Int32)
}

/// The event queue's FIFO lanes: kinds of event mostly scheduled a constant delay ahead, so
/// that they arrive in time order and skip the heap (see `EventQueue`).
enum Lane: Int, CaseIterable {
    /// The next heartbeat, one interval on.
    case heartbeats
    /// Executor → plane messages, one report delay on.
    case messages
    /// Plane → executor messages (dispatches, stops), one dispatch delay on.
    case orders
}

/// One replication of a scenario: the control plane plus models of everything around it
/// (executors, the network between them, the workload), driven by a virtual clock.
///
/// Everything that happens goes through the event heap or the plane's input queue, in an
/// order fixed by (time, sequence); every random draw comes from a named stream. The same
/// scenario and seed therefore give the same run, bit for bit.
public struct Simulation {
    let scenario: Scenario
    public let replicationSeed: UInt64
    var plane: ControlPlane
    var queue = EventQueue<WorldEvent>(lanes: Lane.allCases.count)
    public private(set) var now = Instant.zero
    let end: Instant
    /// Plane inputs raised at the current instant, handled in order.
    var pendingInputs = FIFO<PlaneInput>()
    var draining = false
    var effects = PlaneEffects()
    public private(set) var eventsProcessed = 0
    /// Called every 2¹⁸ events with the virtual time reached (for progress on a terminal).
    public var onProgress: ((Instant) -> Void)?

    // The world.
    var executors: [ExecutorModel] = []
    var poolSpecs: [ExecutorSpec]
    var tasks: [SimTask] = []
    var workloads: [WorkloadState]
    var held: [Int32: HeldMessages] = [:]
    /// Executor → plane messages on their way, each in a slot its `deliver` event names; free
    /// slots are reused. Each executor's channel keeps order, as a TCP connection or a NATS
    /// subject does: a message is never due before the executor's previous one
    /// (`channelFree`). One pool rather than a queue per executor: a million executors'
    /// queues would cost a kilobyte each.
    var messagesOnTheWire: [PlaneInput?] = []
    var freeMessageSlots: [Int32] = []
    var messagesInFlight: [Int32] = []
    /// Each executor's incarnation while it is up and in contact, else 0: what a heartbeat
    /// checks, in 4 bytes an executor (a fleet's worth stays in the cache) instead of a
    /// read of its whole model.
    var heartbeatToken: [UInt32] = []
    var channelFree: [Instant] = []
    /// What `ControlPlane.readAhead` returned, kept only so that its reads are not optimized
    /// away: a task's completion starts the plane's reads (and the metrics' and the task's)
    /// before the simulator's own, so that their cache misses overlap on a big fleet.
    var readAheadWord: UInt32 = 0

    // LLM serving (empty when the scenario has no LLM load).
    var llmServers: [[LocalServer]] = []
    var llmCalls: [Int64: LLMCall] = [:]
    var pendingRetryAfter: [Int64: TimeSpan] = [:]
    var nextLLMCall: Int64 = 0
    var providerDownUntil: [Instant]
    var providerRetryAfter: [TimeSpan?]
    /// Each provider's current prices (US dollars per million input and output tokens).
    var providerPrices: [(input: Double, output: Double)]
    let llmTokenStreams: [RandomStream]
    let cloudStreams: [RandomStream]

    // Random streams, one per purpose.
    let arrivalStreams: [RandomStream]
    let runtimeStreams: [RandomStream]
    let failureStreams: [RandomStream]
    /// One churn stream per executor, so that when one executor's downtime is drawn (which
    /// can depend on when its last task ended, hence on the policy) no other executor's
    /// draws move. Small-state (taus2) generators: a million executors' streams fit in
    /// ~100 MB.
    var churnStreams: [RandomStream] = []
    let heartbeatStream: RandomStream
    let dispatchStream: RandomStream
    let reportStream: RandomStream
    let faultStream: RandomStream
    /// Draws for the plane's random placement policies.
    let placementStream: RandomStream

    var metrics: MetricsCollector

    /// Prepares replication `replication` (from 0) of `scenario` seeded from `seed`.
    public init(scenario: Scenario, seed: UInt64, replication: Int) {
        self.scenario = scenario
        replicationSeed = SeedDerivation.replicationSeed(seed, replication: replication)
        let rs = replicationSeed
        placementStream = RandomStream(runSeed: rs, purpose: "placement")
        llmTokenStreams = scenario.agents.map { RandomStream(runSeed: rs, purpose: "llm-tokens/\($0.definition.name)") }
        let clouds = scenario.llm?.router.providers ?? []
        cloudStreams = clouds.map { RandomStream(runSeed: rs, purpose: "cloud/\($0.name)") }
        providerDownUntil = Array(repeating: .zero, count: clouds.count)
        providerRetryAfter = Array(repeating: nil, count: clouds.count)
        providerPrices = clouds.map { ($0.inputPricePerMillion, $0.outputPricePerMillion) }
        var planeConfig = scenario.policy.plane
        if let llm = scenario.llm { planeConfig.llm = llm.router }
        plane = ControlPlane(config: planeConfig, agents: scenario.agents.map(\.definition), random: placementStream)
        end = Instant.zero + scenario.duration
        poolSpecs = scenario.pools.map { pool in
            ExecutorSpec(labels: pool.labels, capacity: pool.resources, owner: pool.owner, exclusive: pool.exclusive,
                         localModels: pool.llm.map { l in
                             l.models.map { LocalModel(model: $0, slots: l.slots, queueLimit: l.queue,
                                                       tokensPerSecond: l.tokensPerSecond, loadTime: l.loadTime,
                                                       batchSlowdown: l.batchSlowdown) }
                         } ?? [])
        }
        workloads = scenario.workloads.map { WorkloadState(arrivals: $0.arrivals) }
        arrivalStreams = scenario.workloads.enumerated().map {
            RandomStream(runSeed: rs, purpose: "arrivals/\($0.offset)/\(scenario.agents[$0.element.agent].definition.name)")
        }
        runtimeStreams = scenario.agents.map { RandomStream(runSeed: rs, purpose: "runtime/\($0.definition.name)") }
        failureStreams = scenario.agents.map { RandomStream(runSeed: rs, purpose: "failure/\($0.definition.name)") }
        heartbeatStream = RandomStream(runSeed: rs, purpose: "heartbeat-phase")
        dispatchStream = RandomStream(runSeed: rs, purpose: "network/dispatch")
        reportStream = RandomStream(runSeed: rs, purpose: "network/report")
        faultStream = RandomStream(runSeed: rs, purpose: "faults")
        metrics = MetricsCollector(warmup: Instant.zero + scenario.warmup, end: end, tenants: scenario.tenants,
                                   llm: scenario.llm != nil,
                                   tenantHasWork: scenario.tenants.indices.map { t in
                                       scenario.workloads.contains { $0.tenant.index == t }
                                   })
        let expectedTasks = scenario.workloads.reduce(0.0) { $0 + $1.arrivals.meanRate } * scenario.duration.seconds
        // Room for the expected tasks up front: growing a table of millions copies it.
        let room = Int(min(expectedTasks * 1.05, 50_000_000))
        tasks.reserveCapacity(room)
        plane.reserveCapacity(tasks: room)
        metrics.reserveCapacity(tasks: room)
    }

    /// Runs the replication to its end and returns what it measured.
    public mutating func run() -> ReplicationResult {
        for (p, pool) in scenario.pools.enumerated() {
            for _ in 0..<pool.count { startExecutor(pool: p, initial: true) }
        }
        for w in workloads.indices { scheduleNextArrival(Int32(w)) }
        for (i, e) in scenario.events.enumerated() { queue.push(.scenarioEvent(index: Int32(i)), at: Instant.zero + e.at) }
        queue.push(.sample, at: Instant.zero + scenario.sampleEvery)

        while let (time, event) = queue.pop(notAfter: end) {
            now = time
            eventsProcessed += 1
            if eventsProcessed & 0x3FFFF == 0 { onProgress?(now) }
            handle(event)
        }
        now = end
        return finish()
    }

    private mutating func handle(_ event: WorldEvent) {
        switch event {
        case .arrival(let w, let generation): arrival(workload: Int(w), generation: generation)
        case .spreadArrival(let w): submitTask(workload: Int(w))
        case .dispatchArrives(let t, let a, let e, let inc): dispatchArrives(TaskID(t), a, Int(e), inc)
        case .taskCompletes(let t, let a, let e, let inc): taskCompletes(TaskID(t), a, Int(e), inc)
        case .deliver(let m, let e): deliver(Int(m), from: Int(e))
        case .heartbeat(let e, let inc): heartbeat(Int(e), inc)
        case .goDown(let e, let session): goDown(Int(e), session)
        case .comeUp(let e): comeUp(Int(e))
        case .partitionHeals(let e, let inc): partitionHeals(Int(e), inc)
        case .planeTimer(let timer): send(.timerFired(timer))
        case .preemptArrives(let t, let a, let e, let inc): preemptArrives(TaskID(t), a, Int(e), inc)
        case .llmCall(let t, let a, let e): llmCall(TaskID(t), a, Int(e))
        case .llmDone(let id): llmDone(id)
        case .sample:
            metrics.sampled(pending: plane.pendingReasons(at: now), fragmentation: plane.fragmentation(at: now),
                            queued: plane.queuedCount, at: now)
            queue.push(.sample, at: now + scenario.sampleEvery)
        case .scenarioEvent(let i): apply(scenario.events[Int(i)].action)
        }
    }

    /// Hands an input to the plane and carries out what it asks for. Inputs raised while
    /// effects are being carried out wait their turn, so the plane sees one input at a time.
    mutating func send(_ input: PlaneInput) {
        guard !draining else { return pendingInputs.append(input) }
        draining = true
        process(input)
        while !pendingInputs.isEmpty { process(pendingInputs.removeFirst()) }
        draining = false
    }

    private mutating func process(_ input: PlaneInput) {
        let reply = plane.handle(input, at: now, effects: &effects)
        answer(input, reply)
        guard !effects.isEmpty else { return }  // a heartbeat's usual answer: nothing to do
        var i = 0
        while i < effects.list.count {
            carryOut(effects.list[i])
            i += 1
        }
        effects.removeAll()
    }

    /// Carries the plane's answer back to whoever asked (before the effects, which follow
    /// from the answer: a routed call's warm-ups, say).
    private mutating func answer(_ input: borrowing PlaneInput, _ reply: PlaneReply) {
        // On the input alone, not an (input, reply) tuple: a tuple would copy the input.
        switch input {
        case .executorHeartbeat(let e): if case .reregister = reply { reregister(e.index) }
        case .executorDraining(let e): drainHeard(e.index)
        case .llmRouteRequested: if case .routed(let decision) = reply { llmRouted(decision) }
        case .llmCompleted(let id, _, _):
            switch reply {
            case .settled(let cost): llmSettled(id, costMicroUSD: cost)
            case .unknownCall: llmSettled(id, costMicroUSD: nil)
            default: break
            }
        default: break
        }
    }

    private mutating func carryOut(_ effect: PlaneEffect) {
        switch effect {
        case .dispatch(let task, let attempt, let executor): dispatch(task, attempt, executor.index)
        // Scenarios cancel nothing; a stop would reach the executor as a preemption does.
        case .preempt(let task, let attempt, let executor), .stop(let task, let attempt, let executor):
            after(scenario.network.dispatch, dispatchStream,
                  .preemptArrives(task: task.rawValue, attempt: attempt, executor: executor.rawValue,
                                  incarnation: executors[executor.index].incarnation), lane: .orders)
        case .setTimer(let timer, let at): queue.push(.planeTimer(timer), at: at)
        case .taskEnded(let task, let state): metrics.taskEnded(tasks[task.index], as: state, at: now)
        case .llmAbandoned(let id, let cost): llmAbandoned(id, costMicroUSD: cost)
        case .llmWarmUp(let e, let model): llmWarmUp(e.index, model)
        // What a store keeps of the router; the simulated plane is never rebuilt.
        case .llmCallOpened, .llmCallEnded: break
        case .audit(let event):
            metrics.audit(event, submittedAt: event.task >= 0 ? tasks[Int(event.task)].submitted : now)
            if event.kind == .executorLost || event.kind == .executorRejoined { lossNoticed(Int(event.executor)) }
        }
    }

    /// Schedules `event` after a delay drawn from `delay`, or handles it now when the delay is zero.
    mutating func after(_ delay: Distribution, _ stream: RandomStream, _ event: WorldEvent, lane: Lane? = nil) {
        let d = delay.sampleSeconds(stream)
        if d <= 0 { handle(event) } else { queue.push(event, at: now + .seconds(d), lane: lane?.rawValue) }
    }

    private mutating func finish() -> ReplicationResult {
        metrics.close(at: end, executors: executors.count)
        return metrics.result(plane: plane, tasks: tasks, events: eventsProcessed, seed: replicationSeed)
    }
}

/// A task as the world knows it: when it came, how long it runs, and the draw that decides
/// which of its attempts fail.
struct SimTask {
    var submitted: Instant
    var firstStart: Instant
    var runtime: TimeSpan
    var agent: Int32
    var tenant: Int32
    /// Drawn at arrival from the agent's failure stream; attempt k fails when
    /// `attemptUniform(k)` falls below the agent's failure probability. Drawing it up front
    /// keeps every attempt's outcome independent of the order in which retries happen.
    var failureDraw: UInt64

    /// A uniform number in [0, 1) for attempt `attempt`, derived from `failureDraw`.
    func attemptUniform(_ attempt: UInt16) -> Double {
        Double(SeedDerivation.splitmix(failureDraw &+ UInt64(attempt)) >> 11) * 0x1p-53
    }
}

extension RandomStream: PlaneRandomSource {
    /// 64 random bits from two 32-bit draws of the stream.
    public func next() -> UInt64 {
        UInt64(integer(below: 1 << 32)) << 32 | UInt64(integer(below: 1 << 32))
    }
}
