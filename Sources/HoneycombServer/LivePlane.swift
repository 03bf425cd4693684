import Foundation
import HoneycombCore
import HoneycombLive

/// Why the live plane refused a command. The message is safe to show to a client.
public enum PlaneRefusal: Error, CustomStringConvertible, Equatable {
    case unknownTask(Int64)
    case notYours
    case unknownAgent(String)
    case unknownModel(String)
    case unknownExecutor(Int64)
    case unknownCall(Int64)
    case keyReused(String)
    /// The store could not be written: nothing of the command was kept.
    case storeUnavailable
    case stopped

    public var description: String {
        switch self {
        case .unknownTask(let id): "there is no task \(id)"
        case .notYours: "that is not yours"
        case .unknownAgent(let what): "there is no agent \(what)"
        case .unknownModel(let name): "the router knows no model \"\(name)\""
        case .unknownExecutor(let id): "executor \(id) is not registered"
        case .unknownCall(let id): "there is no open LLM call \(id) of this executor"
        case .keyReused(let key): "Idempotency-Key \(key) was used before for a different request"
        case .storeUnavailable: "the state store could not take the change; nothing of this request was applied (retry)"
        case .stopped: "this replica is not the active scheduler"
        }
    }
}

/// A task to submit.
struct Submission: Sendable {
    var agentVersion: Int64
    var userID: Int64
    var tenant: TenantID
    var priority: Int8
    var input: String
    var latencyTargetMs: Int?
    /// The client's key for this submission: the same key again (from the same user) gets the
    /// same task, not a second one.
    var idempotencyKey: String? = nil

    /// What the request asked for, hashed: a key used again for another request is refused.
    var requestHash: String {
        Encoding.hex(Digest.sha256(Array("\(agentVersion)|\(priority)|\(latencyTargetMs ?? -1)|\(input)".utf8)))
    }
}

/// A submission's task, and whether it existed already (an idempotent repeat).
struct Submitted: Sendable, Equatable {
    var id: Int64
    var existing: Bool
}

/// What an executor reports of a task attempt.
enum AttemptReport: Sendable {
    case started
    case succeeded(output: String?)
    case failed(output: String?)
}

/// One report of an executor about one attempt.
struct ReportItem: Sendable {
    var task: Int64
    var attempt: Int
    var report: AttemptReport
}

/// The live driver of the very `ControlPlane` the simulator drives.
///
/// Commands from the API queue up while a batch is being written; each batch applies its
/// commands to the plane in order (synchronously, so the plane is never seen half-changed),
/// writes everything they changed to PostgreSQL in one transaction, and only then publishes
/// dispatches to JetStream and answers the callers: an acknowledged command is durable.
/// If a write fails the callers are told so and the plane is rebuilt from the store, so the
/// plane never runs ahead of what PostgreSQL holds.
actor LivePlane {
    enum Command {
        case submit([Submission], CheckedContinuation<[Submitted], Error>)
        case register(Int64, ExecutorSpecBody, CheckedContinuation<Void, Error>)
        case heartbeat(Int64, CheckedContinuation<Bool, Error>)
        case report([ReportItem], executor: Int64, CheckedContinuation<[Bool], Error>)
        case drain(Int64, actor: String, CheckedContinuation<Void, Error>)
        case cancel(Int64, actor: String, CheckedContinuation<String, Error>)
        case route(LLMRouteBody, CheckedContinuation<LLMDecision, Error>)
        case llmComplete(call: Int64, executor: Int64, LLMOutcome, CheckedContinuation<Int64, Error>)
        case timer(PlaneTimer)
        /// Release LLM calls whose executor is gone or that were never reported ended.
        case sweepCalls

        func fail(_ error: Error) {
            switch self {
            case .submit(_, let k): k.resume(throwing: error)
            case .register(_, _, let k), .drain(_, _, let k): k.resume(throwing: error)
            case .heartbeat(_, let k): k.resume(throwing: error)
            case .report(_, _, let k): k.resume(throwing: error)
            case .cancel(_, _, let k): k.resume(throwing: error)
            case .route(_, let k): k.resume(throwing: error)
            case .llmComplete(_, _, _, let k): k.resume(throwing: error)
            case .timer, .sweepCalls: break
            }
        }
    }

    private var plane: ControlPlane
    private let config: PlaneConfig
    private let store: PlaneStore
    private let nats: JetStreamConnection
    private let presence: ExecutorPresence?
    private let channel: DispatchChannel
    let metrics: ServiceMetrics

    private var agentRows: [AgentVersionRow] = []            // by AgentID
    private var agentIDs: [Int64: AgentID] = [:]             // agent_versions.id → AgentID
    private var versionIDs: [String: Int64] = [:]            // "name" (latest) and "name\0version" → agent_versions.id
    private var inputs: [Int64: String] = [:]                // task → input, until it ends
    private var timers = TimerHeap()
    private var pending: [Command] = []
    private var wake: CheckedContinuation<Void, Never>?
    private var running = true
    private var llmRequestSeq: Int64 = 0
    /// Routed calls not yet reported ended: the executor that made each, and when.
    private var llmCalls: [Int64: (executor: Int64, at: Instant)] = [:]
    /// A call not reported ended after this long is released (its executor forgot it).
    static let callLifetime = TimeSpan.minutes(10)
    /// Idempotency keys (`user:key`) this leader accepted, newest last, at most 100,000: a
    /// repeat that comes before its first is committed is caught here; later ones by the store.
    private var recentKeys: [String: (id: Int64, request: String)] = [:]
    private var keyOrder: [String] = []

    private func remember(_ key: String, _ id: Int64, _ request: String) {
        recentKeys[key] = (id, request)
        keyOrder.append(key)
    }

    /// Forgets the oldest keys, only between batches: a key is never forgotten before its
    /// batch is committed (else a repeat in the same batch would reach the unique index).
    private func forgetOldKeys() {
        guard keyOrder.count > 100_000 else { return }
        for k in keyOrder.prefix(keyOrder.count - 90_000) { recentKeys[k] = nil }
        keyOrder.removeFirst(keyOrder.count - 90_000)
    }

    /// The task's state now, for answering a repeat.
    func state(of task: Int64) -> String? {
        Int32(exactly: task).flatMap { plane.tasks[TaskID($0)] }?.state.description
    }

    /// Messages JetStream has not yet taken.
    private var outbox: [OutgoingMessage] = []
    /// Task ids taken from the sequence and not yet used.
    private var idPool: [Int64] = []
    private var idNext = 0
    private var effects = PlaneEffects()

    init(config: PlaneConfig, store: PlaneStore, nats: JetStreamConnection, channel: DispatchChannel,
         presence: ExecutorPresence?, metrics: ServiceMetrics) {
        self.channel = channel
        self.config = config
        self.plane = ControlPlane(config: config)
        self.store = store
        self.nats = nats
        self.presence = presence
        self.metrics = metrics
    }

    static func now() -> Instant { Instant(nanoseconds: WallClock.nanoseconds()) }

    /// The store's own message goes to the log, never to a client.
    private nonisolated func logStoreError(_ error: Error) {
        FileHandle.standardError.write(Data("honeycomb: the store refused a batch: \(error)\n".utf8))
    }

    // MARK: Rebuilding from the store

    /// A fresh plane holding what PostgreSQL holds: agent versions, the executors last seen
    /// online (each must heartbeat within the timeout or is declared lost), and every task not
    /// ended, on its executor or queued. Dispatches not known to have started are published
    /// again; their message ids make that harmless if they were already delivered.
    func rebuild() async throws -> (executors: Int, tasks: Int) {
        var fresh = ControlPlane(config: config)
        agentRows = []
        versionIDs = [:]
        agentIDs = [:]
        inputs = [:]
        timers = TimerHeap()
        for row in try await store.agentVersions() {
            agentIDs[row.id] = fresh.register(agent: row.definition)
            index(row)
        }
        let now = Self.now()
        var fx = PlaneEffects()
        let executors = try await store.liveExecutors()
        for e in executors {
            fresh.handle(.executorRegistered(ExecutorID(Int32(e.id)), e.spec.spec(models: config.llm.models)), at: now, effects: &fx)
            if e.state == "draining" { fresh.handle(.executorDraining(ExecutorID(Int32(e.id))), at: now, effects: &fx) }
        }
        // Attempts under way first, so they keep their executors; then the waiting ones.
        let tasks = try await store.unfinishedTasks().sorted { a, b in
            let ha = a.state == "dispatched" || a.state == "running", hb = b.state == "dispatched" || b.state == "running"
            return ha != hb ? ha : a.id < b.id
        }
        for t in tasks {
            guard let agent = agentIDs[t.agentVersion] else { continue }
            inputs[t.id] = t.input
            let executor = (t.state == "dispatched" || t.state == "running") ? t.executor.map { ExecutorID(Int32($0)) } : nil
            fresh.handle(.taskRestored(TaskSpec(id: TaskID(Int32(t.id)), agent: agent, tenant: config.tenant(of: t.userName),
                                                priority: t.priority),
                                       attempt: t.attempt, executor: executor, running: t.state == "running",
                                       submittedAt: Instant(nanoseconds: t.submittedNs)), at: now, effects: &fx)
        }
        plane = fresh
        // Timers and new dispatches from the rebuild itself, then the dispatches in flight.
        var write = BatchWrite()
        var outgoing: [OutgoingMessage] = []
        absorb(&fx, now, &write, &outgoing)
        for t in tasks where t.state == "dispatched" {
            guard let r = plane.tasks[TaskID(Int32(t.id))], r.state == .dispatched else { continue }
            outgoing.append(runMessage(task: t.id, r))
        }
        try await store.commit(write)
        try await nats.publish(outgoing)
        return (executors.count, tasks.count)
    }

    // MARK: Commands

    func submit(_ s: Submission) async throws -> Submitted {
        try await submit([s])[0]
    }

    /// Submits all or none: the tasks are accepted in one transaction.
    func submit(_ batch: [Submission]) async throws -> [Submitted] {
        try await withCheckedThrowingContinuation { enqueue(.submit(batch, $0)) }
    }

    func register(executor: Int64, _ spec: ExecutorSpecBody) async throws {
        try await withCheckedThrowingContinuation { enqueue(.register(executor, spec, $0)) }
    }

    /// Returns true when the executor must register again (the plane had given it up).
    func heartbeat(executor: Int64) async throws -> Bool {
        try await withCheckedThrowingContinuation { enqueue(.heartbeat(executor, $0)) }
    }

    /// Returns true when the report is about the attempt the plane has on that executor (for
    /// `started`: run it); false for a stale attempt (drop it).
    func report(task: Int64, attempt: Int, executor: Int64, _ report: AttemptReport) async throws -> Bool {
        try await self.report([ReportItem(task: task, attempt: attempt, report: report)], executor: executor)[0]
    }

    /// Several reports of one executor, applied in order in one batch.
    func report(_ items: [ReportItem], executor: Int64) async throws -> [Bool] {
        try await withCheckedThrowingContinuation { enqueue(.report(items, executor: executor, $0)) }
    }

    func drain(executor: Int64, actor: String) async throws {
        try await withCheckedThrowingContinuation { enqueue(.drain(executor, actor: actor, $0)) }
    }

    /// Returns the task's state after the cancellation.
    func cancel(task: Int64, actor: String) async throws -> String {
        try await withCheckedThrowingContinuation { enqueue(.cancel(task, actor: actor, $0)) }
    }

    /// Routes an executor's LLM call: the decision reserves capacity and budget until the
    /// executor reports the call's end (`complete`).
    func route(_ body: LLMRouteBody) async throws -> LLMDecision {
        try await withCheckedThrowingContinuation { enqueue(.route(body, $0)) }
    }

    /// Where a call from that executor would go now, reserving nothing: for users asking.
    /// The plane is a value; the question is put to a copy of it.
    func advise(_ body: LLMRouteBody) throws -> LLMDecision {
        guard let request = body.request(id: 0, models: config.llm.models) else { throw PlaneRefusal.unknownModel(body.model) }
        guard executorView(body.executor) != nil else { throw PlaneRefusal.unknownExecutor(body.executor) }
        var copy = plane
        var fx = PlaneEffects()
        copy.handle(.llmRouteRequested(request), at: Self.now(), effects: &fx)
        return fx.list.lazy.compactMap { if case .llmRouted(let d) = $0 { d } else { nil } }.first!
    }

    /// The end of a routed call: releases what it reserved and settles its cost (micro-dollars).
    func complete(call: Int64, executor: Int64, _ outcome: LLMOutcome) async throws -> Int64 {
        try await withCheckedThrowingContinuation { enqueue(.llmComplete(call: call, executor: executor, outcome, $0)) }
    }

    /// A new agent version, already stored.
    func published(_ row: AgentVersionRow) {
        guard agentIDs[row.id] == nil else { return }
        agentIDs[row.id] = plane.register(agent: row.definition)
        index(row)
    }

    /// The store id of the agent's version (its latest when `version` is nil).
    func agentVersion(named name: String, version: String?) -> Int64? {
        versionIDs[version.map { "\(name)\u{0}\($0)" } ?? name]
    }

    /// Keeps the row, and finds it by name (the latest version) and by name and version: every
    /// submission looks one up.
    private func index(_ row: AgentVersionRow) {
        agentRows.append(row)
        versionIDs[row.name] = row.id
        versionIDs["\(row.name)\u{0}\(row.version)"] = row.id
    }

    /// True while the attempt is the task's current one on that executor.
    func isCurrent(task: Int64, attempt: Int, executor: Int64) -> Bool {
        guard let raw = Int32(exactly: task), let r = plane.tasks[TaskID(raw)] else { return false }
        return Int(r.attempt) == attempt && Int64(r.executor) == executor && (r.state == .dispatched || r.state == .running)
    }

    /// Why the task waits, or where it would go.
    func explain(task: Int64) -> PlacementExplanation? { plane.explain(TaskID(Int32(task)), at: Self.now()) }

    /// The plane's view of an executor: state, used and capacity.
    func executorView(_ id: Int64) -> (state: String, used: Resources, capacity: Resources, tasks: Int)? {
        let e = ExecutorID(Int32(id))
        guard e.index < plane.executors.count, plane.executors.state(of: e) != .unknown else { return nil }
        return (plane.executors.state(of: e).description, plane.executors.used[e.index], plane.executors.capacity[e.index],
                plane.executors.tasks(on: e).count)
    }

    var queued: Int { plane.queuedCount }
    var counters: PlaneCounters { plane.counters }

    private func enqueue(_ c: Command) {
        guard running else { c.fail(PlaneRefusal.stopped); return }
        pending.append(c)
        if let w = wake { wake = nil; w.resume() }
    }

    /// Moves timers that are due into the queue, earliest first.
    func tick() {
        let now = Self.now()
        while let next = timers.first, next.at <= now {
            enqueue(.timer(timers.popFirst().timer))
        }
    }

    /// Stops taking commands; those queued are refused.
    func stop() {
        running = false
        for c in pending { c.fail(PlaneRefusal.stopped) }
        pending = []
        if let w = wake { wake = nil; w.resume() }
    }

    // MARK: The batch loop

    /// Runs batches until `stop()`. Throws when the store fails: the caller rebuilds (or steps
    /// down) before running again.
    func run() async throws {
        while running {
            if pending.isEmpty {
                await withCheckedContinuation { wake = $0 }
                continue
            }
            let batch = pending
            pending = []
            try await process(batch)
        }
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
        let started = WallClock.nanoseconds()
        let submissions = batch.reduce(0) { if case .submit(let s, _) = $1 { $0 + s.count } else { $0 } }
        if idPool.count - idNext < submissions {
            // Ids come from the table's sequence in blocks: one round trip per thousand tasks.
            do {
                let fresh = try await store.allocateTaskIDs(max(submissions, 1024))
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
        var outgoing: [OutgoingMessage] = []
        var replies: [Reply] = []
        var heartbeats: [(Int64, UInt32)] = []
        let now = Self.now()
        effects.removeAll()
        for command in batch {
            switch command {
            case .submit(let list, let k):
                if let missing = list.first(where: { agentIDs[$0.agentVersion] == nil }) {
                    replies.append(.refused(command, PlaneRefusal.unknownAgent("version #\(missing.agentVersion)")))
                    continue
                }
                // A key used before for another request refuses the whole list, before any of it applies.
                if let reused = list.first(where: { s in
                    s.idempotencyKey.flatMap { recentKeys["\(s.userID):\($0)"] }.map { $0.request != s.requestHash } ?? false
                }) {
                    replies.append(.refused(command, PlaneRefusal.keyReused(reused.idempotencyKey!)))
                    continue
                }
                var ids: [Submitted] = []
                for s in list {
                    let key = s.idempotencyKey.map { "\(s.userID):\($0)" }
                    if let key, let earlier = recentKeys[key] {
                        ids.append(Submitted(id: earlier.id, existing: true))
                        continue
                    }
                    let id = idPool[idNext]
                    idNext += 1
                    ids.append(Submitted(id: id, existing: false))
                    let hash = s.requestHash
                    if let key { remember(key, id, hash) }
                    write.newTasks.append(NewTask(id: id, agentVersion: s.agentVersion, userID: s.userID, priority: s.priority,
                                                  input: s.input, latencyTargetMs: s.latencyTargetMs, submittedNs: now.nanoseconds,
                                                  idempotencyKey: s.idempotencyKey, requestHash: s.idempotencyKey == nil ? nil : hash))
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
                let before = effects.list.count
                plane.handle(.executorHeartbeat(ExecutorID(Int32(e))), at: now, effects: &effects)
                let reregister = effects.list[before...].contains { if case .reregister = $0 { true } else { false } }
                if !reregister { heartbeats.append((e, plane.executors.incarnation[Int(e)])) }
                replies.append(.flag(k, reregister))
            case .report(let items, let executor, let k):
                replies.append(.flags(k, items.map { apply($0, executor: executor, now, &write) }))
            case .drain(let e, let actor, let k):
                plane.handle(.executorDraining(ExecutorID(Int32(e))), at: now, effects: &effects)
                write.audit.append((actor, "executor.drain", "executor/\(e)", "{}", now.nanoseconds))
                replies.append(.done(k))
            case .cancel(let task, let actor, let k):
                guard let raw = Int32(exactly: task), plane.tasks[TaskID(raw)] != nil else {
                    replies.append(.refused(command, PlaneRefusal.unknownTask(task)))
                    continue
                }
                let id = TaskID(Int32(task))
                plane.handle(.taskCancelled(id), at: now, effects: &effects)
                write.audit.append((actor, "task.cancel", "task/\(task)", "{}", now.nanoseconds))
                replies.append(.state(k, plane.tasks[id]!.state.description))
            case .route(let body, let k):
                llmRequestSeq += 1
                guard let request = body.request(id: llmRequestSeq, models: config.llm.models) else {
                    replies.append(.refused(command, PlaneRefusal.unknownModel(body.model)))
                    continue
                }
                guard executorView(body.executor) != nil else {
                    replies.append(.refused(command, PlaneRefusal.unknownExecutor(body.executor)))
                    continue
                }
                let before = effects.list.count
                plane.handle(.llmRouteRequested(request), at: now, effects: &effects)
                let decision = effects.list[before...].lazy.compactMap { if case .llmRouted(let d) = $0 { d } else { nil } }.first!
                if decision.target != .rejected { llmCalls[decision.request] = (body.executor, now) }
                replies.append(.routed(k, decision))
            case .llmComplete(let call, let executor, let outcome, let k):
                guard llmCalls[call]?.executor == executor else {
                    replies.append(.refused(command, PlaneRefusal.unknownCall(call)))
                    continue
                }
                llmCalls[call] = nil
                let before = effects.list.count
                plane.handle(.llmCompleted(call, outcome), at: now, effects: &effects)
                var cost: Int64 = 0
                for case .llmSettled(_, let c) in effects.list[before...] { cost = c }
                replies.append(.cost(k, cost))
            case .timer(let t):
                plane.handle(.timerFired(t), at: now, effects: &effects)
            case .sweepCalls:
                // Released at no cost: what they used is unknown, and their capacity is not.
                for (call, c) in llmCalls.sorted(by: { $0.key < $1.key }) {
                    let s = plane.executors.state(of: ExecutorID(Int32(c.executor)))
                    guard s != .online && s != .draining || now - c.at > Self.callLifetime else { continue }
                    llmCalls[call] = nil
                    plane.handle(.llmCompleted(call, .succeeded(inputTokens: 0, outputTokens: 0)), at: now, effects: &effects)
                }
            }
        }
        absorb(&effects, now, &write, &outgoing)
        do {
            try await store.commit(write)
        } catch {
            metrics.storeFailures.add(1)
            logStoreError(error)
            for r in replies { fail(r, PlaneRefusal.storeUnavailable) }
            throw error
        }
        // Durable now: tell the executors, then the callers.
        await publish(outgoing)
        if let presence, !heartbeats.isEmpty {
            // Presence is a cache for operators: renew it beside the batch loop, not in it.
            let ttl = config.heartbeatTimeout.seconds
            Task {
                for (e, incarnation) in heartbeats { try? await presence.mark(e, incarnation: incarnation, ttl: ttl) }
            }
        }
        for r in replies { answer(r) }
        forgetOldKeys()
        metrics.batches.add(1)
        metrics.batchCommands.add(batch.count)
        metrics.dispatched.add(outgoing.count)
        metrics.observeBatch(seconds: Double(WallClock.nanoseconds() - started) / 1e9)
    }

    /// Applies one report if it is about the attempt the plane has on that executor.
    private func apply(_ item: ReportItem, executor: Int64, _ now: Instant, _ write: inout BatchWrite) -> Bool {
        guard let raw = Int32(exactly: item.task) else { return false }
        let id = TaskID(raw)
        guard let r = plane.tasks[id], Int(r.attempt) == item.attempt, Int64(r.executor) == executor,
              r.state == .dispatched || r.state == .running else { return false }
        let a = UInt16(item.attempt)
        switch item.report {
        case .started:
            plane.handle(.taskStarted(id, attempt: a), at: now, effects: &effects)
        case .succeeded(let output):
            write.results.append((item.task, item.attempt, true, output))
            plane.handle(.taskSucceeded(id, attempt: a), at: now, effects: &effects)
        case .failed(let output):
            write.results.append((item.task, item.attempt, false, output))
            plane.handle(.taskFailed(id, attempt: a), at: now, effects: &effects)
        }
        return true
    }

    /// Publishes the batch's messages with any that failed before. What JetStream does not
    /// take stays in the outbox and goes again with the next batch or tick (message ids make a
    /// repeat harmless); the callers' commands are durable either way.
    private func publish(_ messages: [OutgoingMessage]) async {
        let all = outbox + messages
        guard !all.isEmpty else { return }
        do {
            try await nats.publish(all, timeout: 1)
            outbox = []
        } catch {
            metrics.publishFailures.add(1)
            outbox = all
        }
    }

    /// Queues a sweep of LLM calls whose executor is gone or that outlived `callLifetime`.
    func sweepCalls() {
        if !llmCalls.isEmpty { enqueue(.sweepCalls) }
    }

    /// How many routed LLM calls are open.
    var openCalls: Int { llmCalls.count }

    /// Retries the outbox when no batch has come for a while.
    func flushOutbox() async {
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
                        _ outgoing: inout [OutgoingMessage]) {
        var touched: [Int64] = []
        for effect in fx.list {
            switch effect {
            case .dispatch(let task, _, _):
                let id = Int64(task.rawValue)
                outgoing.append(runMessage(task: id, plane.tasks[task]!))
            case .preempt(let task, let attempt, let e), .stop(let task, let attempt, let e):
                let m = ExecutorMessage(kind: .stop, task: Int64(task.rawValue), attempt: Int(attempt))
                outgoing.append(OutgoingMessage(subject: channel.subject(executor: Int64(e.rawValue)),
                                                payload: Self.encode(m), id: m.messageID))
            case .setTimer(let timer, let at):
                timers.push(timer, at: at)
            case .taskEnded(let task, _):
                inputs[Int64(task.rawValue)] = nil
            case .llmWarmUp(let e, let model):
                let m = ExecutorMessage(kind: .warmUp, task: 0, attempt: 0, model: config.llm.models[model.index].name)
                outgoing.append(OutgoingMessage(subject: channel.subject(executor: Int64(e.rawValue)),
                                                payload: Self.encode(m), id: m.messageID + "-\(now.nanoseconds)"))
            case .audit(let event):
                if event.task >= 0 {
                    touched.append(Int64(event.task))
                    write.history.append((Int64(event.task), Self.historyState(event.kind), Int(event.attempt),
                                          event.executor >= 0 ? Int64(event.executor) : nil, event.at.nanoseconds))
                } else if event.executor >= 0 {
                    let (action, state) = Self.executorChange(event.kind)
                    write.audit.append(("plane", action, "executor/\(event.executor)", "{}", event.at.nanoseconds))
                    if let state { write.executorStates.append((Int64(event.executor), state)) }
                }
            case .reregister, .llmRouted, .llmSettled:
                break
            }
        }
        fx.removeAll()
        var seen = Set<Int64>()
        for id in touched where seen.insert(id).inserted {
            guard let r = plane.tasks[TaskID(Int32(id))] else { continue }
            write.taskStates.append((id, r.state.description, Int(r.attempt), r.executor >= 0 ? Int64(r.executor) : nil))
        }
    }

    private func runMessage(task id: Int64, _ r: TaskRecord) -> OutgoingMessage {
        let row = agentRows[r.agent.index]
        let m = ExecutorMessage(kind: .run, task: id, attempt: Int(r.attempt), agent: row.name, version: row.version,
                                bundlePath: "/v1/agents/\(row.name)/versions/\(row.version)/bundle",
                                bundleSHA256: row.bundleSHA256, publisherKey: row.publisherKey,
                                bundleSignature: row.signature, input: inputs[id] ?? "{}", profile: row.profile,
                                submittedAtNs: r.submittedAt.nanoseconds, dispatchedAtNs: WallClock.nanoseconds())
        return OutgoingMessage(subject: channel.subject(executor: Int64(r.executor)), payload: Self.encode(m),
                               id: m.messageID)
    }

    static func encode(_ m: ExecutorMessage) -> [UInt8] { Array(try! JSONEncoder().encode(m)) }

    static func historyState(_ kind: AuditEvent.Kind) -> String {
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

    static func executorChange(_ kind: AuditEvent.Kind) -> (action: String, state: String?) {
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
