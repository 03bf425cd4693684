import HoneycombCore

/// One batch: its commands applied to the plane in order, one commit, then the dispatches
/// published and the callers answered.
extension LivePlane {
    enum Reply {
        case submitted(CheckedContinuation<[Submitted], Error>, [Submitted])
        case done(CheckedContinuation<Void, Error>)
        case flag(CheckedContinuation<Bool, Error>, Bool)
        case flags(CheckedContinuation<[Bool], Error>, [Bool])
        case state(CheckedContinuation<String, Error>, String)
        case routed(CheckedContinuation<LLMDecision, Error>, LLMDecision)
        case cost(CheckedContinuation<Int64, Error>, Int64)
        case refused(Command, Error)
    }

    func process(_ batch: [Command]) async throws {
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
                heartbeats.append((e, plane.executors.incarnation(of: ExecutorID(Int32(e)))))
                replies.append(.done(k))
            case .heartbeat(let e, let k):
                let reregister = plane.handle(.executorHeartbeat(ExecutorID(Int32(e))), at: now, effects: &effects) == .reregister
                if !reregister { heartbeats.append((e, plane.executors.incarnation(of: ExecutorID(Int32(e))))) }
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
        noteHeard(heartbeats, now, &write)
        let committing = io.clock.now()
        do {
            try await io.store.commit(write)
            metrics.commitSeconds.recordNanoseconds((io.clock.now() - committing).nanoseconds)
        } catch {
            metrics.storeErrors.increment()
            logStoreError(error)
            for r in replies { fail(r, PlaneRefusal.storeUnavailable) }
            throw error
        }
        // Durable now: the dispatcher tells the executors; the callers hear at once.
        if !outgoing.isEmpty {
            outbox += outgoing
            wakeDispatcher()
        }
        // Presence is a cache for operators: renewed beside the batch loop (`flushPresence`), not in it.
        if io.presence != nil { presenceDue += heartbeats }
        for r in replies { answer(r) }
        ledger.forgetOld()
        metrics.batches.increment()
        metrics.batchCommands.increment(by: batch.count)
        metrics.batchSeconds.recordNanoseconds((io.clock.now() - started).nanoseconds)
        metrics.noteBatch(plane, outbox: outboxDepth, last: &exported)
    }

    /// Writes, at most once per `heardResolution`, when each executor was heard from, and
    /// that this plane was listening: a rebuild counts silence from these.
    func noteHeard(_ heard: [(Int64, UInt32)], _ now: Instant, _ write: inout BatchWrite) {
        let resolution = heardResolution
        for (e, _) in heard where heardWritten[e].map({ now - Instant(nanoseconds: $0) >= resolution }) ?? true {
            heardWritten[e] = now.nanoseconds
            write.executorsHeard.append((e, now.nanoseconds))
        }
        if listeningWritten.map({ now - Instant(nanoseconds: $0) >= resolution }) ?? true {
            listeningWritten = now.nanoseconds
            write.listeningNs = now.nanoseconds
        }
    }

    /// Applies one report; false when the plane finds it stale (not the attempt it has on
    /// that executor).
    func apply(_ item: ReportItem, executor: Int64, _ now: Instant, _ write: inout BatchWrite) -> Bool {
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

    func answer(_ r: Reply) {
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

    func fail(_ r: Reply, _ error: Error) {
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
}
