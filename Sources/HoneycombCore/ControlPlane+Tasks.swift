extension ControlPlane {
    mutating func submit(_ spec: TaskSpec, _ now: Instant, _ effects: inout PlaneEffects) {
        precondition(spec.agent.index >= 0 && spec.agent.index < agents.count,
                     "task \(spec.id) names \(spec.agent), which is not registered")
        precondition(tasks[spec.id] == nil, "\(spec.id) was submitted twice")
        tasks.insert(TaskRecord(agent: spec.agent, state: .queued, attempt: 0, executor: -1, submittedAt: now),
                     at: spec.id)
        effects.append(.audit(AuditEvent(.taskSubmitted, at: now, task: spec.id.rawValue)))
        enqueue(spec.id, spec.agent, now, &effects)
    }

    /// Places the task at once when nothing of its agent waits ahead of it, else queues it.
    mutating func enqueue(_ task: TaskID, _ agent: AgentID, _ now: Instant, _ effects: inout PlaneEffects) {
        if queue.isEmpty(agent: agent), let e = scheduler.pick(for: agent, agents[agent], in: executors) {
            dispatch(task, to: e, now, &effects)
            return
        }
        queue.append(task, agent: agent)
        effects.append(.audit(AuditEvent(.taskQueued, at: now, task: task.rawValue)))
    }

    /// Places queued tasks, oldest first, until nothing more fits.
    ///
    /// Invariant on return: the head of every agent's non-empty queue fits no executor.
    mutating func placementPass(_ now: Instant, _ effects: inout PlaneEffects) {
        counters.placementPasses += 1
        if blockedScratch.count < queue.agentCount {
            blockedScratch.append(contentsOf: repeatElement(false, count: queue.agentCount - blockedScratch.count))
        }
        for i in blockedScratch.indices { blockedScratch[i] = false }
        while !executors.schedulable.isEmpty, let head = queue.oldestHead(skipping: blockedScratch) {
            if let e = scheduler.pick(for: head.agent, agents[head.agent], in: executors) {
                queue.removeHead(agent: head.agent)
                dispatch(head.task, to: e, now, &effects)
            } else {
                blockedScratch[head.agent.index] = true
            }
        }
    }

    mutating func dispatch(_ task: TaskID, to executor: ExecutorID, _ now: Instant, _ effects: inout PlaneEffects) {
        let agent = tasks.records[task.index].agent
        executors.reserve(agents[agent].requires, for: task, on: executor)
        tasks.records[task.index].attempt += 1
        tasks.records[task.index].executor = executor.rawValue
        tasks.setState(task, .dispatched)
        counters.dispatched += 1
        let attempt = tasks.records[task.index].attempt
        effects.append(.dispatch(task, attempt: attempt, to: executor))
        effects.append(.audit(AuditEvent(.taskDispatched, at: now, task: task.rawValue,
                                         executor: executor.rawValue, attempt: attempt)))
    }

    /// True when a report names the task's current attempt on a live assignment.
    private mutating func isCurrent(_ task: TaskID, _ attempt: UInt16) -> Bool {
        guard let r = tasks[task], r.attempt == attempt, r.state == .dispatched || r.state == .running else {
            counters.staleReports += 1
            return false
        }
        return true
    }

    mutating func started(_ task: TaskID, _ attempt: UInt16, _ now: Instant, _ effects: inout PlaneEffects) {
        guard isCurrent(task, attempt) else { return }
        if tasks.records[task.index].state == .dispatched { tasks.setState(task, .running) }
        effects.append(.audit(AuditEvent(.taskStarted, at: now, task: task.rawValue,
                                         executor: tasks.records[task.index].executor, attempt: attempt)))
    }

    mutating func attemptEnded(_ task: TaskID, _ attempt: UInt16, succeeded: Bool, _ now: Instant,
                               _ effects: inout PlaneEffects) {
        guard isCurrent(task, attempt) else { return }
        let r = tasks.records[task.index]
        executors.release(agents[r.agent].requires, for: task, on: ExecutorID(r.executor))
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
    }

    /// After a failed or lost attempt: back off and retry while attempts remain, else end the
    /// task in `outcome`.
    mutating func retryOrGiveUp(_ task: TaskID, endedAs outcome: TaskState, _ now: Instant,
                                _ effects: inout PlaneEffects) {
        let r = tasks.records[task.index]
        if Int(r.attempt) < agents[r.agent].maxAttempts {
            tasks.setState(task, .backoff)
            counters.retried += 1
            effects.append(.setTimer(.retry(task, attempt: r.attempt), at: now + config.backoff(after: Int(r.attempt))))
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
        case .liveness(let id, let incarnation):
            checkLiveness(id, incarnation: incarnation, now, &effects)
        case .retry(let task, let attempt):
            guard let r = tasks[task], r.state == .backoff, r.attempt == attempt else { return }
            tasks.setState(task, .queued)
            enqueue(task, r.agent, now, &effects)
        }
    }
}
