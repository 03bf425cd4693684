extension ControlPlane {
    mutating func registerExecutor(_ id: ExecutorID, _ spec: ExecutorSpec, _ now: Instant,
                                   _ effects: inout PlaneEffects) {
        let before = executors.state(of: id)
        // It restarted before we noticed it was gone, or within its leases: its earlier
        // life's work is lost.
        loseWork(of: id, now, &effects)
        executors.register(id, spec, at: now)
        router.executorRegistered(id, spec)
        let kind: AuditEvent.Kind = before == .unknown ? .executorRegistered : .executorRejoined
        effects.append(.audit(AuditEvent(kind, at: now, executor: id.rawValue)))
        armLiveness(now, &effects)
        capacityGrew = true
        joined = id
    }

    mutating func heartbeat(_ id: ExecutorID, _ now: Instant, _ effects: inout PlaneEffects) -> PlaneReply {
        switch executors.state(of: id) {
        case .online, .draining: executors.heartbeat(id, at: now)
        case .lost where !executors.tasks(on: id).isEmpty:
            // Back within its leases: it was cut off, not gone. Take it back, work and all.
            // (Heard first, so that it joins the silence order at its end.)
            executors.heartbeat(id, at: now)
            executors.transition(id, to: executors.stateBeforeLoss[id.index])
            router.executorServes(id, peers: executors.state(of: id) == .online)
            armLiveness(now, &effects)
            effects.append(.audit(AuditEvent(.executorRecovered, at: now, executor: id.rawValue)))
            capacityGrew = true
        case .unknown, .lost, .left: return .reregister
        }
        return .done
    }

    mutating func drain(_ id: ExecutorID, _ now: Instant, _ effects: inout PlaneEffects) {
        guard executors.state(of: id) == .online else { return }
        executors.heartbeat(id, at: now)
        executors.transition(id, to: .draining)
        router.executorDraining(id)
        effects.append(.audit(AuditEvent(.executorDraining, at: now, executor: id.rawValue)))
    }

    /// The executor left on purpose (`left`) or went silent (`lost`).
    mutating func executorGone(_ id: ExecutorID, as state: ExecutorState, _ now: Instant,
                               _ effects: inout PlaneEffects) {
        let before = executors.state(of: id)
        guard before == .online || before == .draining else { return }
        if state == .lost, let lease = config.lease, !executors.tasks(on: id).isEmpty {
            // Its tasks stay with it until their leases, counted from its last word, run out.
            effects.append(.setTimer(.leaseExpiry(id, incarnation: executors.incarnation(of: id)),
                                     at: max(now, executors.lastHeartbeat(of: id) + lease)))
        } else {
            loseWork(of: id, now, &effects)
        }
        executors.transition(id, to: state)
        router.executorGone(id)
        if state == .lost { counters.executorsLost += 1 }
        effects.append(.audit(AuditEvent(state == .lost ? .executorLost : .executorLeft, at: now,
                                         executor: id.rawValue)))
    }

    /// Everything `id` was doing is lost: its attempts are rescheduled or given up, and the
    /// LLM calls it asked for are abandoned (nobody is left to report their end).
    mutating func loseWork(of id: ExecutorID, _ now: Instant, _ effects: inout PlaneEffects) {
        for (call, cost) in router.abandonCalls(from: id) { effects.append(.llmAbandoned(call, costMicroUSD: cost)) }
        for task in executors.tasks(on: id) {
            let r = tasks.records[task.index]
            hold(task, r, on: id, -1)
            tasks.records[task.index].executor = -1
            effects.append(.audit(AuditEvent(.taskAttemptLost, at: now, task: task.rawValue,
                                             executor: id.rawValue, attempt: r.attempt)))
            retryOrGiveUp(task, endedAs: .lost, now, &effects)
        }
    }

    /// Makes sure a liveness timer is pending by the deadline of the executor silent the
    /// longest (one timeout after its last word).
    ///
    /// One timer for the whole fleet, not one per executor: the registry keeps the present
    /// executors in the order they were last heard from, so only the first can be overdue.
    /// The timer is re-armed lazily, when it fires, for whoever is first then; a heartbeat
    /// costs the plane a store and a move to the end of that list, and no timer.
    mutating func armLiveness(_ now: Instant, _ effects: inout PlaneEffects) {
        guard let first = executors.longestSilent else { return }
        let due = max(now, executors.lastHeartbeat(of: first) + config.heartbeatTimeout)
        // A timer pending no later does the job (it looks again when it fires).
        if let pending = livenessDue, pending <= due { return }
        livenessDue = due
        effects.append(.setTimer(.liveness, at: due))
    }

    /// The liveness timer fired: declare lost every executor silent for the timeout, then
    /// arm the timer for the next deadline.
    mutating func checkLiveness(_ now: Instant, _ effects: inout PlaneEffects) {
        // The timer armed last has fired (or this is an earlier one, and it is due too).
        if let pending = livenessDue, pending <= now { livenessDue = nil }
        while let first = executors.longestSilent, executors.lastHeartbeat(of: first) + config.heartbeatTimeout <= now {
            executorGone(first, as: .lost, now, &effects)
        }
        armLiveness(now, &effects)
    }

    /// The leases of a lost executor's tasks ran out and it has not spoken: reschedule them.
    mutating func leaseExpired(_ id: ExecutorID, incarnation: UInt32, _ now: Instant, _ effects: inout PlaneEffects) {
        guard executors.state(of: id) == .lost, executors.incarnation(of: id) == incarnation,
              let lease = config.lease else { return }
        // A timer from an earlier loss (it recovered, then was lost again): the current
        // lease, counted from its latest heartbeat, still runs; its own timer is pending.
        guard now >= executors.lastHeartbeat(of: id) + lease else { return }
        loseWork(of: id, now, &effects)
    }
}
