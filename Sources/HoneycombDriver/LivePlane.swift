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

    private var plane: ControlPlane
    private let config: PlaneConfig
    private let io: PlaneIO
    package let metrics: DriverMetrics

    private var agentRows: [StoredAgent] = []                // by AgentID
    private var agentIDs: [Int64: AgentID] = [:]             // agent_versions.id → AgentID
    private var versionIDs: [String: Int64] = [:]            // "name" (latest) and "name\0version" → agent_versions.id
    private var inputs: [Int64: String] = [:]                // task → input, until it ends
    private var timers = TimerHeap()
    private var pending: [Command] = []
    private var wake: CheckedContinuation<Void, Never>?
    /// Set when `run` stops (a failed write, or `stop`); cleared by a rebuild. Callers of
    /// `settled` wait for the loop to go idle.
    private var loopEnded = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var running = true
    private var llmRequestSeq: Int64 = 0
    /// Seeds the plane's random placement choices (each rebuild starts the stream again).
    private let seed: UInt64
    /// Idempotency keys of batches in flight; the store holds the rest.
    private var ledger = IdempotencyLedger()

    /// The task's state now, if the plane holds it.
    package func state(of task: Int64) -> String? {
        Int32(exactly: task).flatMap { plane.tasks[TaskID($0)] }?.state.description
    }

    /// Executors heard from whose presence is yet to be renewed.
    private var presenceDue: [(Int64, UInt32)] = []
    /// Messages the bus has not yet taken.
    private var outbox: [ExecutorMessage] = []
    /// Task ids taken from the sequence and not yet used.
    private var idPool: [Int64] = []
    private var idNext = 0
    private var effects = PlaneEffects()

    package init(config: PlaneConfig, seed: UInt64, io: PlaneIO, metrics: DriverMetrics = DriverMetrics()) {
        self.config = config
        self.seed = seed
        self.plane = ControlPlane(config: config, random: SeededRandom(seed: seed))
        self.io = io
        self.metrics = metrics
    }

    private func now() -> Instant { io.clock.now() }

    /// The store's own message goes to the log, never to a client.
    private nonisolated func logStoreError(_ error: Error) {
        io.log("the store refused a batch: \(error)")
    }

    // MARK: Rebuilding from the store

    /// A fresh plane holding what PostgreSQL holds: agent versions, the executors last seen
    /// online (each must heartbeat within the timeout or is declared lost), and every task not
    /// ended, on its executor or queued. Dispatches not known to have started are published
    /// again; their message ids make that harmless if they were already delivered.
    package func rebuild() async throws -> (executors: Int, tasks: Int) {
        loopEnded = false
        var fresh = ControlPlane(config: config, random: SeededRandom(seed: seed))
        agentRows = []
        versionIDs = [:]
        agentIDs = [:]
        inputs = [:]
        timers = TimerHeap()
        var snapshot = PlaneSnapshot()
        let stored = try await io.store.load(at: now())
        for row in stored.agents {
            agentIDs[row.id] = AgentID(Int32(snapshot.agents.count))
            snapshot.agents.append(row.definition)
            index(row)
        }
        let executors = stored.executors
        snapshot.executors = executors.map { e in
            PlaneSnapshot.Executor(id: ExecutorID(Int32(e.id)), spec: e.spec.spec(models: config.llm.models),
                                   state: e.state == "draining" ? .draining : e.state == "lost" ? .lost : .online)
        }
        let tasks = stored.tasks
        for t in tasks {
            guard let agent = agentIDs[t.agentVersion] else { continue }
            inputs[t.id] = t.input
            let state = TaskState.allCases.first { $0.description == t.state } ?? .queued
            snapshot.tasks.append(PlaneSnapshot.Task(
                spec: TaskSpec(id: TaskID(Int32(t.id)), agent: agent, tenant: config.tenant(of: t.userName), priority: t.priority),
                state: state, attempt: t.attempt, executor: t.executor.map { ExecutorID(Int32($0)) },
                submittedAt: Instant(nanoseconds: t.submittedNs)))
        }
        snapshot.llm = config.ledger(stored.llm)
        llmRequestSeq = max(llmRequestSeq, stored.llm.lastCall)
        let now = now()
        var fx = PlaneEffects()
        fresh.handle(.restored(snapshot), at: now, effects: &fx)
        plane = fresh
        // Timers and new dispatches from the rebuild itself, then the dispatches in flight.
        var write = BatchWrite()
        var outgoing: [ExecutorMessage] = []
        absorb(&fx, now, &write, &outgoing)
        for t in tasks where t.state == "dispatched" {
            guard let r = plane.tasks[TaskID(Int32(t.id))], r.state == .dispatched else { continue }
            outgoing.append(runMessage(task: t.id, r, now))
        }
        try await io.store.commit(write)
        try await io.bus.publish(outgoing)
        return (executors.count, tasks.count)
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
    private func index(_ row: StoredAgent) {
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
        let e = ExecutorID(Int32(id))
        guard e.index < plane.executors.count, plane.executors.state(of: e) != .unknown else { return nil }
        return (plane.executors.state(of: e).description, plane.executors.used[e.index], plane.executors.capacity[e.index],
                plane.executors.tasks(on: e).count)
    }

    package var queued: Int { plane.queuedCount }
    /// True once the batch loop has stopped (a write failed, or `stop`), until a rebuild.
    package var hasStopped: Bool { loopEnded }
    /// The plane's record of a task: its state and attempt.
    package func record(of task: Int64) -> (state: TaskState, attempt: UInt16)? {
        Int32(exactly: task).flatMap { plane.tasks[TaskID($0)] }.map { ($0.state, $0.attempt) }
    }
    package var counters: PlaneCounters { plane.counters }

    private func enqueue(_ c: Command) {
        guard running else { c.fail(PlaneRefusal.stopped); return }
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
    }

    // MARK: The batch loop

    /// Runs batches until `stop()`. Throws when the store fails: the caller rebuilds (or steps
    /// down) before running again.
    package func run() async throws {
        defer {
            loopEnded = true
            resumeIdleWaiters()
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

    private func resumeIdleWaiters() {
        let waiters = idleWaiters
        idleWaiters = []
        for w in waiters { w.resume() }
    }

    private enum Reply {
        case submitted(CheckedContinuation<[Submitted], Error>, [Submitted])
        case done(CheckedContinuation<Void, Error>)
        case flag(CheckedContinuation<Bool, Error>, Bool)
        case flags(CheckedContinuation<[Bool], Error>, [Bool])
        case state(CheckedContinuation<String, Error>, String)
        case routed(CheckedContinuation<LLMDecision, Error>, LLMDecision)
        case cost(CheckedContinuation<Int64, Error>, Int64)
        case refused(Command, Error)
    }

    private func process(_ batch: [Command]) async throws {
        let started = now()
        let submissions = batch.reduce(0) { if case .submit(let s, _) = $1 { $0 + s.count } else { $0 } }
        if idPool.count - idNext < submissions {
            // Ids come from the table's sequence in blocks: one round trip per thousand tasks.
            do {
                let fresh = try await io.store.allocateTaskIDs(max(submissions, 1024))
                // The plane's task ids are 32-bit: past that the service refuses new tasks
                // rather than wrap (see the README's limits).
                guard fresh.last.map({ $0 <= Int64(Int32.max) }) ?? true else { throw PlaneRefusal.storeUnavailable }
                idPool = Array(idPool[idNext...]) + fresh
                idNext = 0
            } catch {
                logStoreError(error)
                for c in batch { c.fail(PlaneRefusal.storeUnavailable) }
                throw error
            }
        }
        var write = BatchWrite()
        var outgoing: [ExecutorMessage] = []
        var replies: [Reply] = []
        var heartbeats: [(Int64, UInt32)] = []
        let now = now()
        effects.removeAll()
        for command in batch {
            switch command {
            case .submit(let list, let k):
                if let missing = list.first(where: { agentIDs[$0.agentVersion] == nil }) {
                    replies.append(.refused(command, PlaneRefusal.unknownAgent("version #\(missing.agentVersion)")))
                    continue
                }
                // A key used before for another request refuses the whole list, before any of it applies.
                if let reused = ledger.reused(in: list) {
                    replies.append(.refused(command, PlaneRefusal.keyReused(reused.idempotencyKey!)))
                    continue
                }
                var ids: [Submitted] = []
                for s in list {
                    if let earlier = ledger.earlier(s) {
                        ids.append(Submitted(id: earlier.id, existing: true, state: state(of: earlier.id) ?? "queued"))
                        continue
                    }
                    let id = idPool[idNext]
                    idNext += 1
                    ids.append(Submitted(id: id, existing: false))
                    ledger.remember(s, id: id)
                    write.newTasks.append(NewTask(id: id, agentVersion: s.agentVersion, userID: s.userID, priority: s.priority,
                                                  input: s.input, latencyTargetMs: s.latencyTargetMs, submittedNs: now.nanoseconds,
                                                  idempotencyKey: s.idempotencyKey, requestHash: s.idempotencyKey == nil ? nil : s.requestHash))
                    inputs[id] = s.input
                    plane.handle(.taskSubmitted(TaskSpec(id: TaskID(Int32(id)), agent: agentIDs[s.agentVersion]!, tenant: s.tenant,
                                                         priority: s.priority)), at: now, effects: &effects)
                }
                replies.append(.submitted(k, ids))
            case .register(let e, let spec, let k):
                plane.handle(.executorRegistered(ExecutorID(Int32(e)), spec.spec(models: config.llm.models)), at: now,
                             effects: &effects)
                heartbeats.append((e, plane.executors.incarnation[Int(e)]))
                replies.append(.done(k))
            case .heartbeat(let e, let k):
                let reregister = plane.handle(.executorHeartbeat(ExecutorID(Int32(e))), at: now, effects: &effects) == .reregister
                if !reregister { heartbeats.append((e, plane.executors.incarnation[Int(e)])) }
                replies.append(.flag(k, reregister))
            case .report(let items, let executor, let k):
                replies.append(.flags(k, items.map { apply($0, executor: executor, now, &write) }))
            case .drain(let e, let actor, let k):
                plane.handle(.executorDraining(ExecutorID(Int32(e))), at: now, effects: &effects)
                write.audit.append((actor, "executor.drain", "executor/\(e)", "{}", now.nanoseconds))
                replies.append(.done(k))
            case .cancel(let task, let actor, let k):
                guard let raw = Int32(exactly: task),
                      case .task(let state) = plane.handle(.taskCancelled(TaskID(raw)), at: now, effects: &effects) else {
                    replies.append(.refused(command, PlaneRefusal.unknownTask(task)))
                    continue
                }
                write.audit.append((actor, "task.cancel", "task/\(task)", "{}", now.nanoseconds))
                replies.append(.state(k, state.description))
            case .route(let body, let k):
                llmRequestSeq += 1
                guard let request = body.request(id: llmRequestSeq, models: config.llm.models) else {
                    replies.append(.refused(command, PlaneRefusal.unknownModel(body.model)))
                    continue
                }
                guard case .routed(let decision) = plane.handle(.llmRouteRequested(request), at: now, effects: &effects) else {
                    replies.append(.refused(command, PlaneRefusal.unknownExecutor(body.executor)))
                    continue
                }
                replies.append(.routed(k, decision))
            case .llmComplete(let call, let executor, let outcome, let k):
                guard let e = Int32(exactly: executor),
                      case .settled(let cost) = plane.handle(.llmCompleted(call, outcome, reportedBy: ExecutorID(e)), at: now,
                                                             effects: &effects) else {
                    replies.append(.refused(command, PlaneRefusal.unknownCall(call)))
                    continue
                }
                replies.append(.cost(k, cost))
            case .publish(let row, let k):
                if agentIDs[row.id] == nil, case .agent(let id) = plane.handle(.agentPublished(row.definition), at: now, effects: &effects) {
                    agentIDs[row.id] = id
                    index(row)
                }
                replies.append(.done(k))
            case .timer(let t):
                plane.handle(.timerFired(t), at: now, effects: &effects)
            }
        }
        absorb(&effects, now, &write, &outgoing)
        do {
            try await io.store.commit(write)
        } catch {
            metrics.storeFailures.add(1)
            logStoreError(error)
            for r in replies { fail(r, PlaneRefusal.storeUnavailable) }
            throw error
        }
        // Durable now: tell the executors, then the callers.
        await publish(outgoing)
        // Presence is a cache for operators: renewed beside the batch loop (`flushPresence`), not in it.
        if io.presence != nil { presenceDue += heartbeats }
        for r in replies { answer(r) }
        ledger.forgetOld()
        metrics.batches.add(1)
        metrics.batchCommands.add(batch.count)
        metrics.dispatched.add(outgoing.count)
        metrics.batchSeconds.observe((io.clock.now() - started).seconds)
    }

    /// Applies one report; false when the plane finds it stale (not the attempt it has on
    /// that executor).
    private func apply(_ item: ReportItem, executor: Int64, _ now: Instant, _ write: inout BatchWrite) -> Bool {
        guard let raw = Int32(exactly: item.task), let a = UInt16(exactly: item.attempt),
              let e = Int32(exactly: executor) else { return false }
        let (id, on) = (TaskID(raw), ExecutorID(e))
        let input: PlaneInput
        switch item.report {
        case .started: input = .taskStarted(id, attempt: a, on: on)
        case .succeeded: input = .taskSucceeded(id, attempt: a, on: on)
        case .failed: input = .taskFailed(id, attempt: a, on: on)
        }
        guard plane.handle(input, at: now, effects: &effects) != .stale else { return false }
        switch item.report {
        case .started: break
        case .succeeded(let output): write.results.append((item.task, item.attempt, true, output))
        case .failed(let output): write.results.append((item.task, item.attempt, false, output))
        }
        return true
    }

    /// Publishes the batch's messages with any that failed before. What JetStream does not
    /// take stays in the outbox and goes again with the next batch or tick (message ids make a
    /// repeat harmless); the callers' commands are durable either way.
    private func publish(_ messages: [ExecutorMessage]) async {
        let all = outbox + messages
        guard !all.isEmpty else { return }
        do {
            try await io.bus.publish(all)
            outbox = []
        } catch {
            metrics.publishFailures.add(1)
            outbox = all
        }
    }

    /// How many routed LLM calls are open.
    package var openCalls: Int { plane.openLLMCalls }

    /// Renews the presence of the executors heard from since the last call.
    package func flushPresence() async {
        guard let presence = io.presence, !presenceDue.isEmpty else { return }
        // Each executor once, with its latest incarnation, in the order they were heard from.
        var latest: [Int64: UInt32] = [:]
        var order: [Int64] = []
        for (e, incarnation) in presenceDue {
            if latest.updateValue(incarnation, forKey: e) == nil { order.append(e) }
        }
        presenceDue = []
        let ttl = config.heartbeatTimeout.seconds
        for e in order { try? await presence.mark(e, incarnation: latest[e]!, ttl: ttl) }
    }

    /// Marks present, for one heartbeat timeout, every executor the plane holds online or
    /// draining that the cache does not hold (it was flushed or restarted, or the key was
    /// lost). Keys the cache holds are left alone: they are newer than the plane's word.
    package func refillPresence() async {
        guard let presence = io.presence else { return }
        var live: [Int64] = []
        for k in 0..<plane.executors.count {
            let state = plane.executors.state(of: ExecutorID(Int32(k)))
            if state == .online || state == .draining { live.append(Int64(k)) }
        }
        guard !live.isEmpty, let present = try? await Set(presence.present()) else { return }
        let ttl = config.heartbeatTimeout.seconds
        for id in live where !present.contains(id) { try? await presence.markIfAbsent(id, ttl: ttl) }
    }

    /// Retries the outbox when no batch has come for a while.
    package func flushOutbox() async {
        if !outbox.isEmpty && pending.isEmpty { await publish([]) }
    }

    private func answer(_ r: Reply) {
        switch r {
        case .submitted(let k, let ids): k.resume(returning: ids)
        case .done(let k): k.resume()
        case .flag(let k, let v): k.resume(returning: v)
        case .flags(let k, let v): k.resume(returning: v)
        case .state(let k, let s): k.resume(returning: s)
        case .routed(let k, let d): k.resume(returning: d)
        case .cost(let k, let c): k.resume(returning: c)
        case .refused(let c, let e): c.fail(e)
        }
    }

    private func fail(_ r: Reply, _ error: Error) {
        switch r {
        case .submitted(let k, _): k.resume(throwing: error)
        case .done(let k): k.resume(throwing: error)
        case .flag(let k, _): k.resume(throwing: error)
        case .flags(let k, _): k.resume(throwing: error)
        case .state(let k, _): k.resume(throwing: error)
        case .routed(let k, _): k.resume(throwing: error)
        case .cost(let k, _): k.resume(throwing: error)
        case .refused(let c, let e): c.fail(e)
        }
    }

    /// Turns the plane's effects into rows to write, messages to publish and timers to keep.
    private func absorb(_ fx: inout PlaneEffects, _ now: Instant, _ write: inout BatchWrite,
                        _ outgoing: inout [ExecutorMessage]) {
        var touched: [Int64] = []
        for effect in fx.list {
            switch effect {
            case .dispatch(let task, _, _):
                let id = Int64(task.rawValue)
                outgoing.append(runMessage(task: id, plane.tasks[task]!, now))
            case .preempt(let task, let attempt, let e), .stop(let task, let attempt, let e):
                outgoing.append(ExecutorMessage(kind: .stop, executor: Int64(e.rawValue), task: Int64(task.rawValue),
                                                attempt: Int(attempt)))
            case .setTimer(let timer, let at):
                timers.push(timer, at: at)
            case .taskEnded(let task, _):
                inputs[Int64(task.rawValue)] = nil
            case .llmWarmUp(let e, let model):
                outgoing.append(ExecutorMessage(kind: .warmUp, executor: Int64(e.rawValue), task: 0, attempt: 0,
                                                model: config.llm.models[model.index].name, dispatchedAtNs: now.nanoseconds))
            case .audit(let event):
                if event.task >= 0 {
                    touched.append(Int64(event.task))
                    write.history.append((Int64(event.task), Self.historyState(event.kind), Int(event.attempt),
                                          event.executor >= 0 ? Int64(event.executor) : nil, event.at.nanoseconds))
                } else if event.executor >= 0 {
                    // (An agent's publication is audited by the transaction that stored it.)
                    let (action, state) = Self.executorChange(event.kind)
                    write.audit.append(("plane", action, "executor/\(event.executor)", "{}", event.at.nanoseconds))
                    if let state { write.executorStates.append((Int64(event.executor), state)) }
                }
            case .llmAbandoned:
                metrics.llmAbandoned.add(1)
            case .llmCallOpened(let record):
                write.llmOpened.append(config.stored(record))
            case .llmCallEnded(let id, let cost, let tokens):
                write.llmEnded.append((id, cost, tokens, now.nanoseconds))
            }
        }
        fx.removeAll()
        var seen = Set<Int64>()
        for id in touched where seen.insert(id).inserted {
            guard let r = plane.tasks[TaskID(Int32(id))] else { continue }
            write.taskStates.append((id, r.state.description, Int(r.attempt), r.executor >= 0 ? Int64(r.executor) : nil))
        }
    }

    private func runMessage(task id: Int64, _ r: TaskRecord, _ now: Instant) -> ExecutorMessage {
        let row = agentRows[r.agent.index]
        return ExecutorMessage(kind: .run, executor: Int64(r.executor), task: id, attempt: Int(r.attempt), agent: row.name,
                               version: row.version, bundlePath: "/v1/agents/\(row.name)/versions/\(row.version)/bundle",
                               bundleSHA256: row.bundleSHA256, publisherKey: row.publisherKey, bundleSignature: row.signature,
                               input: inputs[id] ?? "{}", profile: row.profile, submittedAtNs: r.submittedAt.nanoseconds,
                               dispatchedAtNs: now.nanoseconds)
    }

    package static func historyState(_ kind: AuditEvent.Kind) -> String {
        switch kind {
        case .taskSubmitted: "submitted"
        case .taskQueued: "queued"
        case .taskDispatched: "dispatched"
        case .taskStarted: "running"
        case .taskSucceeded: "succeeded"
        case .taskAttemptFailed: "attempt_failed"
        case .taskAttemptLost: "attempt_lost"
        case .taskPreempted: "preempted"
        case .taskMoved: "moved"
        case .taskRetryScheduled: "backoff"
        case .taskFailed: "failed"
        case .taskLost: "lost"
        case .taskCancelled: "cancelled"
        default: "\(kind)"
        }
    }

    package static func executorChange(_ kind: AuditEvent.Kind) -> (action: String, state: String?) {
        switch kind {
        case .executorRegistered: ("executor.registered", "online")
        case .executorRejoined: ("executor.rejoined", "online")
        case .executorRecovered: ("executor.recovered", "online")
        case .executorDraining: ("executor.draining", "draining")
        case .executorLeft: ("executor.left", "left")
        case .executorLost: ("executor.lost", "lost")
        default: ("\(kind)", nil)
        }
    }
}

/// The plane's pending timers, earliest first (ties in the order set): a binary heap, so that
/// a timer per dispatch costs a logarithm, not a scan.
struct TimerHeap {
    private var items: [(at: Instant, seq: UInt64, timer: PlaneTimer)] = []
    private var seq: UInt64 = 0

    var count: Int { items.count }
    var first: (at: Instant, timer: PlaneTimer)? { items.first.map { ($0.at, $0.timer) } }

    private static func before(_ a: (at: Instant, seq: UInt64, timer: PlaneTimer), _ b: (at: Instant, seq: UInt64, timer: PlaneTimer)) -> Bool {
        a.at < b.at || (a.at == b.at && a.seq < b.seq)
    }

    mutating func push(_ timer: PlaneTimer, at: Instant) {
        items.append((at, seq, timer))
        seq += 1
        var k = items.count - 1
        while k > 0 {
            let parent = (k - 1) / 2
            guard Self.before(items[k], items[parent]) else { break }
            items.swapAt(k, parent)
            k = parent
        }
    }

    mutating func popFirst() -> (at: Instant, timer: PlaneTimer) {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var k = 0
            while true {
                let l = 2 * k + 1, r = l + 1
                var m = k
                if l < items.count && Self.before(items[l], items[m]) { m = l }
                if r < items.count && Self.before(items[r], items[m]) { m = r }
                if m == k { break }
                items.swapAt(k, m)
                k = m
            }
        }
        return (top.at, top.timer)
    }
}
