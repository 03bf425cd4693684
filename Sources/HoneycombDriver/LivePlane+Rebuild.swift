import HoneycombCore

/// Rebuilding from the store, and presence.
extension LivePlane {
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
        // Keys of batches in flight die with them: what was committed the store answers for,
        // and a key of a batch that did not land must make a task when it comes again.
        if config.plantedBug != .rebuildKeepsKeysInFlight { ledger = IdempotencyLedger() }
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
                                   state: e.state == "draining" ? .draining : e.state == "lost" ? .lost : .online,
                                   lastHeard: e.lastHeardNs.map { Instant(nanoseconds: $0) })
        }
        snapshot.listeningUntil = stored.listeningUntilNs.map { Instant(nanoseconds: $0) }
        heardWritten = [:]
        for e in executors { heardWritten[e.id] = e.lastHeardNs }
        listeningWritten = nil
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
        exported = PlaneCounters()
        // Timers and new dispatches from the rebuild itself, then the dispatches in flight.
        var write = BatchWrite()
        var outgoing: [ExecutorMessage] = []
        absorb(&fx, now, &write, &outgoing)
        for t in tasks where t.state == "dispatched" {
            guard let r = plane.tasks[TaskID(Int32(t.id))], r.state == .dispatched else { continue }
            outgoing.append(runMessage(task: t.id, r, now))
        }
        try await io.store.commit(write)
        // The bus may be away: the dispatcher publishes these when it is back.
        outbox = outgoing
        publishing = false
        return (executors.count, tasks.count)
    }

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
        // One batch (pipelined round trips in Redis): a failure counts once, and what it
        // missed is renewed by the next heartbeats or the next refill.
        do { try await presence.mark(order.map { ($0, latest[$0]!) }, ttl: config.heartbeatTimeout.seconds) } catch {
            metrics.presenceErrors.increment()
        }
    }

    /// Marks present, for one heartbeat timeout, every executor the plane holds online or
    /// draining that the cache does not hold (it was flushed or restarted, or the key was
    /// lost). Keys the cache holds are left alone: they are newer than the plane's word.
    /// Nothing is read back: the cache's mark-if-absent (Redis `SET NX`) decides, so the pass
    /// costs one write per executor, in pipelined round trips, and no scan of the cache.
    /// Then marks the cache refilled (`PresenceCache.noteRefilled`).
    package func refillPresence() async {
        guard let presence = io.presence else { return }
        var live: [Int64] = []
        for k in 0..<plane.executors.count {
            let state = plane.executors.state(of: ExecutorID(Int32(k)))
            if state == .online || state == .draining { live.append(Int64(k)) }
        }
        do {
            try await presence.markIfAbsent(live, ttl: config.heartbeatTimeout.seconds)
            try await presence.noteRefilled()
        } catch {
            metrics.presenceErrors.increment()
        }
    }

    /// The periodic refill: the whole of `refillPresence` only when the cache has lost the
    /// mark the last one left (it was flushed, or restarted with nothing kept), else one read.
    /// A key lost alone (it expired while Redis was out of reach, say) comes back with its
    /// executor's next heartbeat, within an interval; what a full pass every few seconds
    /// would cost is a write per executor online: at a million, seconds of Redis each time.
    package func refillPresenceIfLost() async {
        guard let presence = io.presence else { return }
        do { if try await presence.refilled() { return } } catch {
            metrics.presenceErrors.increment()
            return
        }
        await refillPresence()
    }
}
