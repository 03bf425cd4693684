extension ControlPlane {
    /// Withdraws a task: it leaves the queue, or its executor is told to stop it and its slot
    /// is freed, and it ends as `cancelled`. A task already ended stays as it ended.
    mutating func cancel(_ task: TaskID, _ now: Instant, _ effects: inout PlaneEffects) {
        guard let r = tasks[task], !r.state.isTerminal else { return }
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
    }

    /// Takes a task back as a store last knew it, into a plane rebuilding its state: on its
    /// executor when that executor is registered again (so nothing runs twice), otherwise
    /// queued for its next attempt.
    mutating func restore(_ spec: TaskSpec, attempt: UInt16, on executor: ExecutorID?, running: Bool,
                          submittedAt: Instant, _ now: Instant, _ effects: inout PlaneEffects) {
        precondition(spec.agent.index >= 0 && spec.agent.index < agents.count,
                     "task \(spec.id) names \(spec.agent), which is not registered")
        precondition(tasks[spec.id] == nil, "\(spec.id) was restored twice")
        let record = TaskRecord(agent: spec.agent, tenant: spec.tenant, priority: spec.priority, state: .queued,
                                attempt: attempt, executor: -1, submittedAt: submittedAt)
        tasks.insert(record, at: spec.id)
        if let e = executor, attempt > 0, executors.state(of: e) == .online || executors.state(of: e) == .draining {
            hold(spec.id, record, on: e, +1)
            tasks.records[spec.id.index].executor = e.rawValue
            tasks.setState(spec.id, running ? .running : .dispatched)
            if !running, let deadline = config.startTimeout {
                effects.append(.setTimer(.startDeadline(spec.id, attempt: attempt), at: now + deadline))
            }
        } else {
            enqueue(spec.id, now, &effects)
        }
    }
}
