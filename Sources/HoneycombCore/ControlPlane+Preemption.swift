extension ControlPlane {
    /// Makes room for `r` by evicting lower-priority tasks from one executor, if some
    /// executor would then fit it. Prefers the executor needing the fewest evictions, then
    /// the one whose victims have the lowest priority. Victims go back to the queue; their
    /// preempted attempts do not count against `maxAttempts`.
    /// Affinity and anti-affinity must hold beside the tasks the evictions leave behind.
    mutating func preemptFor(_ r: PlacementRequest, _ now: Instant, _ effects: inout PlaneEffects) -> ExecutorID? {
        let lower = slotsByPriority[..<(Int(r.priority) + 128)].reduce(0, +)
        guard lower > 0 else { return nil }
        scheduler.prepare(r, executors, agents)
        var best: (executor: Int, victims: [TaskID], worst: Int8)?
        let needs = r.requires
        for e in 0..<executors.count where scheduler.eligibility(r, e, executors) == nil {
            // Lowest priority first; among equals the most recently placed (least work lost).
            let candidates = executors.assigned[e].reversed()
                .filter { tasks.records[$0.index].priority < r.priority }
                .sorted { tasks.records[$0.index].priority < tasks.records[$1.index].priority }
            var used = executors.used[e]
            var victims: [TaskID] = []
            func fits() -> Bool { Scheduler.resourceRejection(needs, used: used, capacity: executors.capacity[e]) == nil }
            for v in candidates {
                if fits() { break }
                used = used - agents.requirements(of: tasks.records[v.index].agent)
                victims.append(v)
            }
            guard !victims.isEmpty, fits() else { continue }
            let remaining = executors.assigned[e].filter { !victims.contains($0) }.map { tasks.records[$0.index].agent }
            guard scheduler.affinityRejection(r, beside: remaining) == nil else { continue }
            let worst = victims.map { tasks.records[$0.index].priority }.max()!
            if best == nil || victims.count < best!.victims.count
                || (victims.count == best!.victims.count && worst < best!.worst) {
                best = (e, victims, worst)
            }
        }
        guard let best else { return nil }
        let executor = ExecutorID(best.executor)
        for v in best.victims {
            let record = tasks.records[v.index]
            hold(v, record, on: executor, -1)
            tasks.records[v.index].executor = -1
            tasks.records[v.index].preemptions += 1
            counters.preempted += 1
            effects.append(.preempt(v, attempt: record.attempt, on: executor))
            effects.append(.audit(AuditEvent(.taskPreempted, at: now, task: v.rawValue,
                                             executor: executor.rawValue, attempt: record.attempt)))
            tasks.setState(v, .queued)
            queue.append(v, toClass: queue.classOf(record.agent, record.tenant, record.priority))
        }
        return executor
    }
}
