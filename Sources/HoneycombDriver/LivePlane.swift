import HoneycombCore

/// The live driver of the very `ControlPlane` the simulator drives.
///
/// Commands from the API queue up while a batch is being written; each batch applies its
/// commands to the plane in order (synchronously, so the plane is never seen half-changed),
/// writes everything they changed to the store in one transaction, and only then publishes
/// dispatches and answers the callers: an acknowledged command is durable. If a write fails
/// the callers are told so and the plane is rebuilt from the store, so the plane never runs
/// ahead of what the store holds.
///
/// All its I/O goes through `PlaneIO`: PostgreSQL, JetStream, Redis and the wall clock in
/// service; memory in unit tests; simulated servers with faults under the fuzzer — one code
/// path for all three.
package actor LivePlane {
    enum Command {
        case submit([Submission], CheckedContinuation<[Submitted], Error>)
        case register(Int64, ExecutorSpecBody, CheckedContinuation<Void, Error>)
        case heartbeat(Int64, CheckedContinuation<Bool, Error>)
        case report([ReportItem], executor: Int64, CheckedContinuation<[Bool], Error>)
        case drain(Int64, actor: String, CheckedContinuation<Void, Error>)
        case cancel(Int64, actor: String, CheckedContinuation<String, Error>)
        case route(LLMRouteBody, CheckedContinuation<LLMDecision, Error>)
        case llmComplete(call: Int64, executor: Int64, LLMOutcome, CheckedContinuation<Int64, Error>)
        case publish(StoredAgent, CheckedContinuation<Void, Error>)
        case timer(PlaneTimer)

        func fail(_ error: Error) {
            switch self {
            case .submit(_, let k): k.resume(throwing: error)
            case .register(_, _, let k), .drain(_, _, let k), .publish(_, let k): k.resume(throwing: error)
            case .heartbeat(_, let k): k.resume(throwing: error)
            case .report(_, _, let k): k.resume(throwing: error)
            case .cancel(_, _, let k): k.resume(throwing: error)
            case .route(_, let k): k.resume(throwing: error)
            case .llmComplete(_, _, _, let k): k.resume(throwing: error)
            case .timer: break
            }
        }
    }

    var plane: ControlPlane
    let config: PlaneConfig
    let io: PlaneIO
    package let metrics: DriverMetrics

    var agentRows: [StoredAgent] = []                // by AgentID
    var agentIDs: [Int64: AgentID] = [:]             // agent_versions.id → AgentID
    var versionIDs: [String: Int64] = [:]            // "name" (latest) and "name\0version" → agent_versions.id
    var inputs: [Int64: String] = [:]                // task → input, until it ends
    var timers = TimerHeap()
    var pending: [Command] = []
    var wake: CheckedContinuation<Void, Never>?
    /// Set when `run` stops (a failed write, or `stop`); cleared by a rebuild. Callers of
    /// `settled` wait for the loop to go idle.
    var loopEnded = false
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    var running = true
    var llmRequestSeq: Int64 = 0
    /// Seeds the plane's random placement choices (each rebuild starts the stream again).
    let seed: UInt64
    /// Idempotency keys of batches in flight; the store holds the rest.
    var ledger = IdempotencyLedger()

    /// The task's state now, if the plane holds it.
    package func state(of task: Int64) -> String? {
        Int32(exactly: task).flatMap { plane.tasks[TaskID($0)] }?.state.description
    }

    /// Executors heard from whose presence is yet to be renewed.
    var presenceDue: [(Int64, UInt32)] = []
    /// Messages committed and not yet taken by the bus, oldest first. Its durable form is the
    /// store: a rebuild publishes again every dispatch not known to have started.
    var outbox: [ExecutorMessage] = []
    var publishing = false
    /// How many messages the publish under way carries (out of `outbox` meanwhile).
    var inFlight = 0
    var outboxWake: CheckedContinuation<Void, Never>?
    /// While the outbox holds this many messages (the bus has been away a while), new
    /// submissions are refused at once (`dispatchUnavailable`); the rest goes on.
    package var outboxLimit = 100_000
    /// When each executor's hearing, and this plane's listening, were last written.
    var heardWritten: [Int64: Int64] = [:]
    var listeningWritten: Int64?
    /// How stale the written times may be: an eighth of the heartbeat timeout (at least a
    /// second). A rebuild may count an executor up to this much more silent than it was.
    var heardResolution: TimeSpan { max(.seconds(1), TimeSpan(nanoseconds: config.heartbeatTimeout.nanoseconds / 8)) }
    /// Task ids taken from the sequence and not yet used.
    var idPool: [Int64] = []
    var idNext = 0
    var effects = PlaneEffects()
    /// The plane's counts as the metrics last carried them over.
    var exported = PlaneCounters()

    package init(config: PlaneConfig, seed: UInt64, io: PlaneIO, metrics: DriverMetrics = DriverMetrics()) {
        self.config = config
        self.seed = seed
        self.plane = ControlPlane(config: config, random: SeededRandom(seed: seed))
        self.io = io
        self.metrics = metrics
    }

    func now() -> Instant { io.clock.now() }

    /// The store's own message goes to the log, never to a client.
    nonisolated func logStoreError(_ error: Error) {
        io.log("the store refused a batch: \(error)")
    }

    // MARK: Commands

    package func submit(_ s: Submission) async throws -> Submitted {
        try await submit([s])[0]
    }

    /// Submits all or none: the tasks are accepted in one transaction. With a `key`, a repeat
    /// of a submission gets its tasks back, and the key used for another request is refused.
    package func submit(_ batch: [Submission], key: IdempotencyKey? = nil) async throws -> [Submitted] {
        var batch = batch
        if let key, !batch.isEmpty {
            for (k, name) in key.keys(count: batch.count).enumerated() { batch[k].idempotencyKey = name }
            // One key past a batch's last, so that a larger earlier batch is caught too.
            var asked = batch.compactMap(\.idempotencyKey)
            if case .batch = key { asked.append(key.keys(count: batch.count + 1).last!) }
            let found: [String: KeyedTask]
            do {
                found = try await io.store.keyedTasks(user: batch[0].userID, keys: asked)
            } catch {
                metrics.storeErrors.increment()
                logStoreError(error)
                throw PlaneRefusal.storeUnavailable
            }
            if let earlier = try IdempotencyLedger.repeatOf(batch, key: key, found: found) { return earlier }
        }
        let list = batch
        return try await withCheckedThrowingContinuation { enqueue(.submit(list, $0)) }
    }

    package func register(executor: Int64, _ spec: ExecutorSpecBody) async throws {
        try await withCheckedThrowingContinuation { enqueue(.register(executor, spec, $0)) }
    }

    /// Returns true when the executor must register again (the plane had given it up).
    package func heartbeat(executor: Int64) async throws -> Bool {
        try await withCheckedThrowingContinuation { enqueue(.heartbeat(executor, $0)) }
    }

    /// Returns true when the report is about the attempt the plane has on that executor (for
    /// `started`: run it); false for a stale attempt (drop it).
    package func report(task: Int64, attempt: Int, executor: Int64, _ report: AttemptReport) async throws -> Bool {
        try await self.report([ReportItem(task: task, attempt: attempt, report: report)], executor: executor)[0]
    }

    /// Several reports of one executor, applied in order in one batch.
    package func report(_ items: [ReportItem], executor: Int64) async throws -> [Bool] {
        try await withCheckedThrowingContinuation { enqueue(.report(items, executor: executor, $0)) }
    }

    package func drain(executor: Int64, actor: String) async throws {
        try await withCheckedThrowingContinuation { enqueue(.drain(executor, actor: actor, $0)) }
    }

    /// Returns the task's state after the cancellation.
    package func cancel(task: Int64, actor: String) async throws -> String {
        try await withCheckedThrowingContinuation { enqueue(.cancel(task, actor: actor, $0)) }
    }

    /// Routes an executor's LLM call: the decision reserves capacity and budget until the
    /// executor reports the call's end (`complete`).
    package func route(_ body: LLMRouteBody) async throws -> LLMDecision {
        try await withCheckedThrowingContinuation { enqueue(.route(body, $0)) }
    }

    /// Where a call from that executor would go now, reserving nothing: for users asking.
    package func advise(_ body: LLMRouteBody) throws -> LLMDecision {
        guard let request = body.request(id: 0, models: config.llm.models) else { throw PlaneRefusal.unknownModel(body.model) }
        switch plane.advice(for: request, at: now()) {
        case .routed(let d): return d
        default: throw PlaneRefusal.unknownExecutor(body.executor)
        }
    }

    /// The end of a routed call: releases what it reserved and settles its cost (micro-dollars).
    package func complete(call: Int64, executor: Int64, _ outcome: LLMOutcome) async throws -> Int64 {
        try await withCheckedThrowingContinuation { enqueue(.llmComplete(call: call, executor: executor, outcome, $0)) }
    }

    /// A new agent version, already stored, offered to the plane.
    package func published(_ row: StoredAgent) async throws {
        try await withCheckedThrowingContinuation { enqueue(.publish(row, $0)) }
    }

    /// The store id of the agent's version (its latest when `version` is nil).
    package func agentVersion(named name: String, version: String?) -> Int64? {
        versionIDs[version.map { "\(name)\u{0}\($0)" } ?? name]
    }

    /// Keeps the row, and finds it by name (the latest version) and by name and version: every
    /// submission looks one up.
    func index(_ row: StoredAgent) {
        agentRows.append(row)
        versionIDs[row.name] = row.id
        versionIDs["\(row.name)\u{0}\(row.version)"] = row.id
    }

    /// True while the attempt is the task's current one on that executor.
    package func isCurrent(task: Int64, attempt: Int, executor: Int64) -> Bool {
        guard let raw = Int32(exactly: task), let a = UInt16(exactly: attempt), let e = Int32(exactly: executor) else { return false }
        return plane.holds(TaskID(raw), attempt: a, on: ExecutorID(e))
    }

    /// Why the task waits, or where it would go.
    package func explain(task: Int64) -> PlacementExplanation? { plane.explain(TaskID(Int32(task)), at: now()) }

    /// The plane's view of an executor: state, used and capacity.
    package func executorView(_ id: Int64) -> (state: String, used: Resources, capacity: Resources, tasks: Int)? {
        guard let raw = Int32(exactly: id), raw >= 0 else { return nil }
        let e = ExecutorID(raw)
        guard e.index < plane.executors.count, plane.executors.state(of: e) != .unknown else { return nil }
        return (plane.executors.state(of: e).description, plane.executors.used[e.index], plane.executors.capacity[e.index],
                plane.executors.tasks(on: e).count)
    }

    /// `executorView` of each, in one call.
    package func executorViews(_ ids: [Int64]) -> [(state: String, used: Resources, capacity: Resources, tasks: Int)?] {
        ids.map(executorView)
    }

    package var queued: Int { plane.queuedCount }
    /// True once the batch loop has stopped (a write failed, or `stop`), until a rebuild.
    package var hasStopped: Bool { loopEnded }
    /// The plane's record of a task: its state and attempt.
    package func record(of task: Int64) -> (state: TaskState, attempt: UInt16)? {
        guard let raw = Int32(exactly: task), let r = plane.tasks[TaskID(raw)] else { return nil }
        return (r.state, r.attempt)
    }
    /// `record(of:)` of each, in one call.
    package func records(of tasks: [Int64]) -> [(state: TaskState, attempt: UInt16)?] { tasks.map(record(of:)) }
    package var counters: PlaneCounters { plane.counters }

    func enqueue(_ c: Command) {
        guard running else { c.fail(PlaneRefusal.stopped); return }
        if case .submit = c, outboxDepth >= outboxLimit { c.fail(PlaneRefusal.dispatchUnavailable(waiting: outboxDepth)); return }
        // The loop stopped on a failed write: nothing is taken until the plane is rebuilt (a
        // command queued now would wait for a loop that is not coming).
        guard !loopEnded else { c.fail(PlaneRefusal.storeUnavailable); return }
        pending.append(c)
        if let w = wake { wake = nil; w.resume() }
    }

    /// Moves timers that are due into the queue, earliest first.
    package func tick() {
        let now = now()
        while let next = timers.first, next.at <= now {
            enqueue(.timer(timers.popFirst().timer))
        }
    }

    /// Stops taking commands; those queued are refused.
    package func stop() {
        running = false
        for c in pending { c.fail(PlaneRefusal.stopped) }
        pending = []
        if let w = wake { wake = nil; w.resume() }
        wakeDispatcher()
    }

    // MARK: The batch loop

    /// Runs batches until `stop()`. Throws when the store fails: the caller rebuilds (or steps
    /// down) before running again.
    package func run() async throws {
        defer {
            loopEnded = true
            // Commands that came while the failed batch was being written were never applied.
            let left = pending
            pending = []
            for c in left { c.fail(running ? PlaneRefusal.storeUnavailable : PlaneRefusal.stopped) }
            resumeIdleWaiters()
            wakeDispatcher()
        }
        while running {
            if pending.isEmpty {
                resumeIdleWaiters()
                await withCheckedContinuation { wake = $0 }
                continue
            }
            let batch = pending
            pending = []
            try await process(batch)
        }
    }

    /// Returns once every queued command has been applied (or the loop has stopped): what a
    /// deterministic driver of the loop (the fuzzer) waits for after queueing timers. A loop
    /// rebuilt but not yet running counts as busy.
    package func settled() async {
        guard !loopEnded, !pending.isEmpty || wake == nil else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    func resumeIdleWaiters() {
        let waiters = idleWaiters
        idleWaiters = []
        for w in waiters { w.resume() }
    }

    /// How many routed LLM calls are open.
    package var openCalls: Int { plane.openLLMCalls }
}
