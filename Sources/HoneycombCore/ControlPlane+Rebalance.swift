extension ControlPlane {
    /// Capacity joined but tasks still wait that fit nowhere: move a few running tasks onto
    /// the newcomer when that frees an executor for a waiting task. Like the Kubernetes
    /// descheduler, but only for a move that lets something waiting start at once. The moved
    /// tasks restart (their work so far is lost, as with preemption) and their moved attempts
    /// do not count against `maxAttempts`.
    mutating func rebalance(onto target: ExecutorID, _ now: Instant, _ effects: inout PlaneEffects) {
        var budget = config.scheduler.rebalanceMoves
        guard executors.state(of: target) == .online else { return }
        for a in 0..<agents.count {
            let id = AgentID(a)
            scheduler.prepare(PlacementRequest(agent: id, requires: agents.requirements(of: id), tenant: .shared, priority: 0),
                              executors, agents)
        }
        for c in queue.classes.indices where budget > 0 {
            guard let head = queue.head(c) else { continue }
            let r = request(for: head)
            scheduler.prepare(r, executors, agents)
            guard let (donor, movers) = donorFor(r, target: target, budget: budget) else { continue }
            for v in movers {
                let record = tasks.records[v.index]
                hold(v, record, on: donor, -1)
                tasks.records[v.index].preemptions += 1
                counters.moved += 1
                effects.append(.preempt(v, attempt: record.attempt, on: donor))
                effects.append(.audit(AuditEvent(.taskMoved, at: now, task: v.rawValue, executor: donor.rawValue,
                                                 attempt: record.attempt)))
                dispatch(v, to: target, now, &effects)
            }
            budget -= movers.count
            queue.removeHead(c)
            dispatch(head, to: donor, now, &effects)
            // The donor may have room left for more.
            capacityGrew = true
        }
    }

    /// An executor where `r` would fit once some of its running tasks (no more than
    /// `budget`, most recently placed first) moved to `target` — which must take them all,
    /// by the same rules as any placement — and the tasks to move; the lowest such id. Looks
    /// at the executors holding work whose labels, tenant and capacity could take `r` (from
    /// the registry's index), as preemption does: all of them, or a policy's sample first.
    private mutating func donorFor(_ r: PlacementRequest, target: ExecutorID,
                                   budget: Int) -> (ExecutorID, [TaskID])? {
        guard scheduler.gatherHolders(r, executors, runningBelow: Int.max) > 0 else { return nil }
        var best: (executor: Int, movers: [TaskID])?
        func consider(_ e: Int) {
            guard e != target.index, best.map({ e < $0.executor }) ?? true,
                  let movers = movers(from: e, for: r, onto: target, budget: budget) else { return }
            best = (e, movers)
        }
        if let k = scheduler.holderDraws() {
            for _ in 0..<k { consider(scheduler.drawHolder(executors)) }
        }
        if best == nil {
            for b in scheduler.holderBuckets { for m in executors.work.members[Int(b)] { consider(Int(m)) } }
        }
        return best.map { (ExecutorID($0.executor), $0.movers) }
    }

    /// The tasks of `e` (no more than `budget`, most recently placed first) whose move to
    /// `target` makes room for `r` on `e`; nil when no such moves do.
    private func movers(from e: Int, for r: PlacementRequest, onto target: ExecutorID, budget: Int) -> [TaskID]? {
        guard scheduler.eligibility(r, e, executors) == nil else { return nil }
        let t = target.index
        let needs = r.requires
        var freed = executors.used[e]
        var onTarget = executors.used[t]
        var besideOnTarget = executors.assigned[t].map { tasks.records[$0.index].agent }
        var movers: [TaskID] = []
        func fits() -> Bool { Scheduler.resourceRejection(needs, used: freed, capacity: executors.capacity[e]) == nil }
        for v in executors.assigned[e].reversed() where movers.count < budget {
            if fits() { break }
            let mover = request(for: v)
            guard scheduler.eligibility(mover, t, executors) == nil,
                  Scheduler.resourceRejection(mover.requires, used: onTarget,
                                              capacity: executors.capacity[t]) == nil,
                  scheduler.affinityRejection(mover, beside: besideOnTarget) == nil else { continue }
            onTarget = onTarget + mover.requires
            besideOnTarget.append(mover.agent)
            freed = freed - mover.requires
            movers.append(v)
        }
        guard !movers.isEmpty && fits() else { return nil }
        let remaining = executors.assigned[e].filter { !movers.contains($0) }.map { tasks.records[$0.index].agent }
        return scheduler.affinityRejection(r, beside: remaining) == nil ? movers : nil
    }
}
