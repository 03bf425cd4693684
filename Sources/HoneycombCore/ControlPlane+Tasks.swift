extension ControlPlane {
    mutating func submit(_ spec: TaskSpec, _ now: Instant, _ effects: inout PlaneEffects) {
        precondition(spec.agent.index >= 0 && spec.agent.index < agents.count,
                     "task \(spec.id) names \(spec.agent), which is not registered")
        precondition(tasks[spec.id] == nil, "\(spec.id) was submitted twice")
        tasks.insert(TaskRecord(agent: spec.agent, tenant: spec.tenant, priority: spec.priority, state: .queued,
                                attempt: 0, executor: -1, submittedAt: now),
                     at: spec.id)
        effects.append(.audit(AuditEvent(.taskSubmitted, at: now, task: spec.id.rawValue)))
        enqueue(spec.id, now, &effects)
    }

    func request(for task: TaskID) -> PlacementRequest {
        let r = tasks.records[task.index]
        return PlacementRequest(agent: r.agent, requires: agents.requirements(of: r.agent), tenant: r.tenant,
                                priority: r.priority)
    }

    /// Places the task at once when nothing of its class waits ahead of it, else queues it.
    /// `audited: false` when it waited already (restored from a store that knows it queued).
    mutating func enqueue(_ task: TaskID, _ now: Instant, _ effects: inout PlaneEffects, audited: Bool = true) {
        let r = request(for: task)
        let c = queue.classOf(r.agent, r.tenant, r.priority)
        if queue.isEmpty(c), let e = place(r, now, &effects) {
            dispatch(task, to: e, now, &effects)
            return
        }
        queue.append(task, toClass: c)
        if audited { effects.append(.audit(AuditEvent(.taskQueued, at: now, task: task.rawValue))) }
    }

    /// An executor for the request: a free one, or (when the policy allows) one made free by
    /// preempting lower-priority work.
    mutating func place(_ r: PlacementRequest, _ now: Instant, _ effects: inout PlaneEffects) -> ExecutorID? {
        if let e = scheduler.pick(r, in: executors, tasks: tasks, agents: agents, now: now) { return e }
        guard config.scheduler.preemption, let e = preemptFor(r, now, &effects) else { return nil }
        // The evictions may free more than this task takes.
        capacityGrew = true
        return e
    }

    /// Places queued tasks until nothing more fits: by priority, then tenant fair share,
    /// then age.
    ///
    /// Invariant on return: the head of every non-empty class fits no executor.
    mutating func placementPass(_ now: Instant, _ effects: inout PlaneEffects) {
        counters.placementPasses += 1
        let n = queue.classes.count
        if blockedScratch.count < n { blockedScratch.append(contentsOf: repeatElement(false, count: n - blockedScratch.count)) }
        for i in blockedScratch.indices { blockedScratch[i] = false }
        let weights = config.tenants
        while !executors.index.isEmpty || config.scheduler.preemption {
            let slots = tenantSlots
            guard let c = queue.nextClass(skipping: blockedScratch, tenantLoad: { t in
                let used = t.index < slots.count ? Double(slots[t.index]) : 0
                let w = t.index < weights.count ? weights[t.index].weight : 1
                return used / max(w, 1e-9)
            }) else { break }
            let task = queue.head(c)!
            if let e = place(request(for: task), now, &effects) {
                queue.removeHead(c)
                dispatch(task, to: e, now, &effects)
            } else {
                blockedScratch[c] = true
            }
        }
    }

    mutating func dispatch(_ task: TaskID, to executor: ExecutorID, _ now: Instant, _ effects: inout PlaneEffects) {
        let r = tasks.records[task.index]
        hold(task, r, on: executor, +1)
        tasks.records[task.index].attempt += 1
        tasks.records[task.index].executor = executor.rawValue
        tasks.setState(task, .dispatched)
        counters.dispatched += 1
        if affinityInUse { capacityGrew = true }
        let attempt = tasks.records[task.index].attempt
        effects.append(.dispatch(task, attempt: attempt, to: executor))
        if let deadline = config.startTimeout { effects.append(.setTimer(.startDeadline(task, attempt: attempt), at: now + deadline)) }
        effects.append(.audit(AuditEvent(.taskDispatched, at: now, task: task.rawValue,
                                         executor: executor.rawValue, attempt: attempt)))
    }

    /// Reserves (+1) or releases (-1) what the task holds on the executor, with all the
    /// bookkeeping that follows it.
    mutating func hold(_ task: TaskID, _ r: TaskRecord, on executor: ExecutorID, _ delta: Int) {
        let needs = agents.requirements(of: r.agent)
        if delta > 0 {
            executors.reserve(needs, for: task, priority: r.priority, on: executor)
        } else {
            executors.release(needs, for: task, on: executor)
        }
        scheduler.noteAssignment(agent: r.agent, labelClass: Int(executors.placementClass[executor.index]), delta)
        if r.tenant.index >= tenantSlots.count {
            tenantSlots.append(contentsOf: repeatElement(0, count: r.tenant.index + 1 - tenantSlots.count))
        }
        tenantSlots[r.tenant.index] += delta
        slotsByPriority[Int(r.priority) + 128] += delta
    }

    /// True while attempt `attempt` is the task's current one, dispatched to or running on
    /// `executor`: the only attempt whose reports count.
    public func holds(_ task: TaskID, attempt: UInt16, on executor: ExecutorID) -> Bool {
        guard let r = tasks[task] else { return false }
        return r.attempt == attempt && r.executor == executor.rawValue && (r.state == .dispatched || r.state == .running)
    }

    /// `holds`, counting the reports that fail it.
    private mutating func isCurrent(_ task: TaskID, _ attempt: UInt16, on executor: ExecutorID) -> Bool {
        let planted = config.plantedBug == .staleReportsAccepted
            && tasks[task].map { $0.state == .dispatched || $0.state == .running } ?? false
        guard holds(task, attempt: attempt, on: executor) || planted else {
            counters.staleReports += 1
            return false
        }
        return true
    }

    mutating func started(_ task: TaskID, _ attempt: UInt16, on executor: ExecutorID, _ now: Instant,
                          _ effects: inout PlaneEffects) -> PlaneReply {
        guard isCurrent(task, attempt, on: executor) else { return .stale }
        // A repeated start (its first reply was lost) changes nothing and is not audited again.
        guard tasks.records[task.index].state == .dispatched else { return .done }
        tasks.setState(task, .running)
        effects.append(.audit(AuditEvent(.taskStarted, at: now, task: task.rawValue, executor: tasks.records[task.index].executor,
                                         attempt: attempt)))
        return .done
    }

    mutating func attemptEnded(_ task: TaskID, _ attempt: UInt16, on executor: ExecutorID, succeeded: Bool,
                               _ now: Instant, _ effects: inout PlaneEffects) -> PlaneReply {
        guard isCurrent(task, attempt, on: executor) else { return .stale }
        let r = tasks.records[task.index]
        hold(task, r, on: ExecutorID(r.executor), -1)
        tasks.records[task.index].executor = -1
        capacityGrew = true
        if succeeded {
            tasks.setState(task, .succeeded)
            effects.append(.audit(AuditEvent(.taskSucceeded, at: now, task: task.rawValue,
                                             executor: r.executor, attempt: attempt)))
            effects.append(.taskEnded(task, .succeeded))
        } else {
            effects.append(.audit(AuditEvent(.taskAttemptFailed, at: now, task: task.rawValue,
                                             executor: r.executor, attempt: attempt)))
            retryOrGiveUp(task, endedAs: .failed, now, &effects)
        }
        return .done
    }

    /// Adds an agent version, audited when it is new.
    mutating func publish(_ definition: AgentDefinition, _ now: Instant, _ effects: inout PlaneEffects) -> AgentID {
        let before = agents.count
        let id = register(agent: definition)
        if agents.count > before { effects.append(.audit(AuditEvent(.agentPublished, at: now, agent: id.rawValue))) }
        return id
    }

    /// After a failed or lost attempt: back off and retry while attempts remain, else end the
    /// task in `outcome`.
    mutating func retryOrGiveUp(_ task: TaskID, endedAs outcome: TaskState, _ now: Instant,
                                _ effects: inout PlaneEffects) {
        let r = tasks.records[task.index]
        let attemptsUsed = Int(r.attempt) - Int(r.preemptions)
        if attemptsUsed < agents[r.agent].maxAttempts {
            tasks.setState(task, .backoff)
            counters.retried += 1
            if outcome == .lost { counters.rescheduled += 1 }
            effects.append(.setTimer(.retry(task, attempt: r.attempt), at: now + config.backoff(after: attemptsUsed)))
            effects.append(.audit(AuditEvent(.taskRetryScheduled, at: now, task: task.rawValue, attempt: r.attempt)))
        } else {
            tasks.setState(task, outcome)
            effects.append(.audit(AuditEvent(outcome == .lost ? .taskLost : .taskFailed, at: now,
                                             task: task.rawValue, attempt: r.attempt)))
            effects.append(.taskEnded(task, outcome))
        }
    }

    mutating func fired(_ timer: PlaneTimer, _ now: Instant, _ effects: inout PlaneEffects) {
        switch timer {
        case .liveness:
            checkLiveness(now, &effects)
        case .leaseExpiry(let id, let incarnation):
            leaseExpired(id, incarnation: incarnation, now, &effects)
        case .startDeadline(let task, let attempt):
            guard let r = tasks[task], r.state == .dispatched, r.attempt == attempt else { return }
            // Never started: stop it where it went (should it start late, its report is stale),
            // and place the task again as after a loss. Not charged as an attempt: the task did
            // nothing wrong (the infrastructure or the executor did), as with a preemption.
            let executor = ExecutorID(r.executor)
            hold(task, r, on: executor, -1)
            tasks.records[task.index].executor = -1
            tasks.records[task.index].preemptions += 1
            capacityGrew = true
            effects.append(.stop(task, attempt: attempt, on: executor))
            effects.append(.audit(AuditEvent(.taskAttemptLost, at: now, task: task.rawValue, executor: r.executor,
                                             attempt: attempt)))
            retryOrGiveUp(task, endedAs: .lost, now, &effects)
        case .retry(let task, let attempt):
            guard let r = tasks[task], r.state == .backoff, r.attempt == attempt else { return }
            tasks.setState(task, .queued)
            enqueue(task, now, &effects)
        case .llmCallDeadline(let call):
            if let cost = router.abandon(call) { effects.append(.llmAbandoned(call, costMicroUSD: cost)) }
        }
    }
}
