extension ControlPlane {
    /// Makes room for `r` by evicting lower-priority tasks from one executor, if some
    /// executor would then fit it. Prefers the executor needing the fewest evictions, then
    /// the one whose victims have the lowest priority, then the lowest id. Victims go back to
    /// the queue; their preempted attempts do not count against `maxAttempts`.
    /// Affinity and anti-affinity must hold beside the tasks the evictions leave behind.
    ///
    /// The search reads the registry's index of executors that hold work: only those whose
    /// labels, tenant and capacity could take the request and that run something of lower
    /// priority are looked at. `all` looks at each (exact); a sampling policy looks at as many
    /// as it samples for placement, drawn at random (stopping early at one that needs a single
    /// eviction of the lowest priority any of them runs, which none can better), and at all of
    /// them only when none of its draws can make room — so preemption is found whenever it is
    /// possible.
    mutating func preemptFor(_ r: PlacementRequest, _ now: Instant, _ effects: inout PlaneEffects) -> ExecutorID? {
        let lower = slotsByPriority[..<(Int(r.priority) + 128)].reduce(0, +)
        guard lower > 0 else { return nil }
        scheduler.prepare(r, executors, agents)
        guard scheduler.gatherHolders(r, executors, runningBelow: Int(r.priority)) > 0 else { return nil }
        var best: (executor: Int, victims: [TaskID], worst: Int8)?
        func consider(_ e: Int) {
            guard let (victims, worst) = evictions(for: r, on: e) else { return }
            if let b = best, (b.victims.count, b.worst, b.executor) <= (victims.count, worst, e) { return }
            best = (e, victims, worst)
        }
        if let k = scheduler.holderDraws() {
            for _ in 0..<k {
                consider(scheduler.drawHolder(executors))
                // One victim of the lowest priority any of them runs: no draw can do better.
                if let b = best, b.victims.count == 1, b.worst == scheduler.holderLowest { break }
            }
        }
        if best == nil {
            for b in scheduler.holderBuckets { for m in executors.work.members[Int(b)] { consider(Int(m)) } }
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

    /// The tasks to evict from executor `e` so that `r` fits there: lowest priority first,
    /// among equals the most recently placed (least work lost), all below `r`'s priority; with
    /// their worst priority. Nil when evicting all of them is not enough, or when `r`'s
    /// affinity rules fail beside what would remain.
    private func evictions(for r: PlacementRequest, on e: Int) -> (victims: [TaskID], worst: Int8)? {
        guard scheduler.eligibility(r, e, executors) == nil else { return nil }
        let held = executors.assigned[e]
        var used = executors.used[e]
        func fits() -> Bool { Scheduler.resourceRejection(r.requires, used: used, capacity: executors.capacity[e]) == nil }
        var victims: [TaskID] = []
        var worst = Int8.min
        // Each round the lowest priority left, the most recently placed among equals: a scan
        // from the newest, not a sort (there are seldom more than one or two victims).
        while !fits() {
            var pick = -1
            var lowest = r.priority
            for k in held.indices.reversed() where tasks.records[held[k].index].priority < lowest
                && !victims.contains(held[k]) {
                pick = k
                lowest = tasks.records[held[k].index].priority
            }
            guard pick >= 0 else { return nil }
            victims.append(held[pick])
            worst = lowest
            used = used - agents.requirements(of: tasks.records[held[pick].index].agent)
        }
        guard !victims.isEmpty else { return nil }
        let remaining = held.lazy.filter { !victims.contains($0) }.map { tasks.records[$0.index].agent }
        guard scheduler.affinityRejection(r, beside: remaining) == nil else { return nil }
        return (victims, worst)
    }
}
