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
        armLiveness(id, at: now + config.heartbeatTimeout, &effects)
        capacityGrew = true
        joined = id
    }

    mutating func heartbeat(_ id: ExecutorID, _ now: Instant, _ effects: inout PlaneEffects) -> PlaneReply {
        switch executors.state(of: id) {
        case .online, .draining: executors.heartbeat(id, at: now)
        case .lost where !executors.tasks(on: id).isEmpty:
            // Back within its leases: it was cut off, not gone. Take it back, work and all.
            executors.transition(id, to: executors.stateBeforeLoss[id.index])
            router.executorServes(id, peers: executors.state(of: id) == .online)
            executors.heartbeat(id, at: now)
            armLiveness(id, at: now + config.heartbeatTimeout, &effects)
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

    func armLiveness(_ id: ExecutorID, at deadline: Instant, _ effects: inout PlaneEffects) {
        effects.append(.setTimer(.liveness(id, incarnation: executors.incarnation(of: id)), at: deadline))
    }

    /// A liveness timer fired: declare the executor lost, or look again when it would be due.
    ///
    /// One timer per executor per timeout, re-armed lazily, rather than one per heartbeat:
    /// heartbeats then cost the plane a single store.
    mutating func checkLiveness(_ id: ExecutorID, incarnation: UInt32, _ now: Instant,
                                _ effects: inout PlaneEffects) {
        let s = executors.state(of: id)
        guard s == .online || s == .draining, executors.incarnation(of: id) == incarnation else { return }
        let due = executors.lastHeartbeat(of: id) + config.heartbeatTimeout
        if due <= now {
            executorGone(id, as: .lost, now, &effects)
        } else {
            armLiveness(id, at: due, &effects)
        }
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
