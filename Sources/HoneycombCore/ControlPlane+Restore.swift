extension ControlPlane {
    /// Withdraws a task: it leaves the queue, or its executor is told to stop it and its slot
    /// is freed, and it ends as `cancelled`. A task already ended stays as it ended.
    mutating func cancel(_ task: TaskID, _ now: Instant, _ effects: inout PlaneEffects) -> PlaneReply {
        guard let r = tasks[task] else { return .unknownTask }
        guard !r.state.isTerminal else { return .task(r.state) }
        switch r.state {
        case .queued:
            _ = queue.remove(task, fromClass: queue.classOf(r.agent, r.tenant, r.priority))
        case .dispatched, .running:
            let executor = ExecutorID(r.executor)
            hold(task, r, on: executor, -1)
            tasks.records[task.index].executor = -1
            capacityGrew = true
            effects.append(.stop(task, attempt: r.attempt, on: executor))
        default:
            break  // backing off: its retry timer finds it ended and does nothing
        }
        tasks.setState(task, .cancelled)
        effects.append(.audit(AuditEvent(.taskCancelled, at: now, task: task.rawValue, executor: r.executor,
                                         attempt: r.attempt)))
        effects.append(.taskEnded(task, .cancelled))
        return .task(.cancelled)
    }

    /// Takes back what a store last knew, into a fresh plane: the agents, the executors (each
    /// must heartbeat within what is left of its timeout, counted from its last word while a
    /// plane listened, or is declared lost), then the attempts under way —
    /// first, so that they keep their executors and nothing runs twice — and last the tasks
    /// waiting, oldest first. An executor the store had declared lost keeps its attempts for
    /// what is left of one lease (or loses them at once without leases). Only what changes is
    /// audited: attempts whose executor is gone, and what is placed.
    mutating func restore(_ snapshot: PlaneSnapshot, _ now: Instant, _ effects: inout PlaneEffects) {
        precondition(agents.count == 0 && tasks.records.isEmpty, "a plane is restored only when fresh")
        for a in snapshot.agents { register(agent: a) }
        var quiet = PlaneEffects()
        let known = snapshot.executors.filter { [.online, .draining, .lost].contains($0.state) }.sorted { $0.id < $1.id }
        for e in known {
            registerExecutor(e.id, e.spec, now, &quiet)
            if e.state == .draining { drain(e.id, now, &quiet) }
        }
        // Each one's silence goes on from where it was (see the liveness timer below).
        executors.setLastHeard(known.map { ($0.id, now - snapshot.silence(of: $0, now: now)) })
        if config.plantedBug != .rebuildForgetsLLMLedger { restoreLLM(snapshot.llm, now, &effects) }
        func underWay(_ t: PlaneSnapshot.Task) -> Bool {
            guard t.underWay, let e = t.executor, t.attempt > 0 else { return false }
            let s = executors.state(of: e)
            return s == .online || s == .draining
        }
        let ordered = snapshot.tasks.sorted { a, b in
            let (ua, ub) = (underWay(a), underWay(b))
            return ua != ub ? ua : a.spec.id < b.spec.id
        }
        for t in ordered { restore(t, underWay: underWay(t), now, &effects) }
        for e in known where e.state == .lost {
            executors.transition(e.id, to: .lost)
            router.executorGone(e.id)
            if let lease = config.lease, !executors.tasks(on: e.id).isEmpty {
                effects.append(.setTimer(.leaseExpiry(e.id, incarnation: executors.incarnation(of: e.id)),
                                         at: max(now, executors.lastHeartbeat(of: e.id) + lease)))
            } else {
                loseWork(of: e.id, now, &effects)
            }
        }
        // The liveness timer falls due when the timeout, counted from the last word of the
        // longest silent present executor, runs out (at once if it has already). The
        // registrations' timer went with their effects, which are no changes.
        livenessDue = nil
        armLiveness(now, &effects)
    }

    /// One task of a snapshot: on its executor when that is registered again, else queued for
    /// its next attempt.
    private mutating func restore(_ t: PlaneSnapshot.Task, underWay: Bool, _ now: Instant, _ effects: inout PlaneEffects) {
        let spec = t.spec
        precondition(spec.agent.index >= 0 && spec.agent.index < agents.count,
                     "task \(spec.id) names \(spec.agent), which is not registered")
        precondition(tasks[spec.id] == nil, "\(spec.id) was restored twice")
        let record = TaskRecord(agent: spec.agent, tenant: spec.tenant, priority: spec.priority, state: .queued,
                                attempt: t.attempt, executor: -1, submittedAt: t.submittedAt)
        tasks.insert(record, at: spec.id)
        if underWay, let e = t.executor {
            hold(spec.id, record, on: e, +1)
            tasks.records[spec.id.index].executor = e.rawValue
            tasks.setState(spec.id, t.state)
            if t.state == .dispatched, let deadline = config.startTimeout {
                effects.append(.setTimer(.startDeadline(spec.id, attempt: t.attempt), at: now + deadline))
            }
        } else if t.underWay, let e = t.executor, t.attempt > 0 {
            // Its executor is gone: that attempt is lost (not charged: the task did nothing wrong).
            tasks.records[spec.id.index].preemptions += 1
            effects.append(.audit(AuditEvent(.taskAttemptLost, at: now, task: spec.id.rawValue, executor: e.rawValue,
                                             attempt: t.attempt)))
            enqueue(spec.id, now, &effects)
        } else {
            // Queued it stays, unaudited; backing off, it is queued now (its backoff's end is
            // not stored), and that change is recorded.
            enqueue(spec.id, now, &effects, audited: t.state != .queued)
        }
    }
}
