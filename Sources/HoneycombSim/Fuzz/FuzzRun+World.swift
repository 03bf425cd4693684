import HoneycombCore
import HoneycombDriver

extension FuzzRun {
    /// One executor's step: come back, heal, register, take deliveries, finish work, report,
    /// heartbeat — as the reference executor does.
    func act(_ k: Int) async throws {
        let now = clock.now()
        switch executors[k].life {
        case .crashed(let until):
            guard until <= now else { return }
            executors[k].life = .up
            log("executor \(executors[k].id) is back (a new life)")
        case .partitioned(let until):
            // Cut off, it goes on working; what it would say waits.
            finishWork(k, now)
            guard until <= now else { return }
            executors[k].life = .up
            log("executor \(executors[k].id) is reachable again")
        case .up:
            break
        }
        let id = executors[k].id
        if !executors[k].registered {
            let spec = spec(of: id)
            guard await call("register \(id)", { try await plane.register(executor: id, spec) }) != nil else { return }
            executors[k].registered = true
            executors[k].nextHeartbeat = now + .seconds(1)
            log("executor \(id) registered")
        }
        try await takeDeliveries(k, now)
        finishWork(k, now)
        try await sendReports(k)
        await endCalls(k, now)
        if executors[k].nextHeartbeat <= now, !healed, chance(shape.lostHeartbeats) {
            executors[k].nextHeartbeat = now + .seconds(1)
            log("executor \(id): a heartbeat is lost on the way")
        }
        if executors[k].nextHeartbeat <= now {
            guard let reregister = await call("heartbeat \(id)", { try await plane.heartbeat(executor: id) }) else { return }
            executors[k].nextHeartbeat = now + .seconds(1)
            if reregister {
                log("executor \(id) told to register again: drops its work")
                executors[k] = Executor(id: id)
            }
        }
    }

    func takeDeliveries(_ k: Int, _ now: Instant) async throws {
        let due = executors[k].inbox.enumerated().filter { $0.element.at <= now }
        guard !due.isEmpty else { return }
        // Delivered in the order they arrive (late ones out of order).
        let order = due.sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element.message)
        executors[k].inbox.removeAll { $0.at <= now }
        let id = executors[k].id
        for m in order {
            switch m.kind {
            case .stop:
                executors[k].running.removeAll { $0.task == m.task && $0.attempt == m.attempt }
                log("executor \(id) stops task \(m.task) attempt \(m.attempt)")
            case .warmUp:
                break
            case .run:
                if storageDownUntil > now {
                    // It cannot fetch the bundle: it tries again later, and says nothing meanwhile.
                    executors[k].inbox.append((now + FuzzRun.step, m))
                    continue
                }
                if executors[k].running.count >= shape.slots, !executors[k].taken.contains("\(m.task)-\(m.attempt)") {
                    // A run can overtake the stop that freed its slot (deliveries reorder): an
                    // executor never runs more than its slots, so it waits for the stop.
                    executors[k].inbox.append((now + FuzzRun.step, m))
                    continue
                }
                guard executors[k].taken.insert("\(m.task)-\(m.attempt)").inserted else {
                    log("executor \(id) drops a repeat of task \(m.task) attempt \(m.attempt)")
                    continue
                }
                guard let run = await call("start \(m.task)", {
                    try await plane.report(task: m.task, attempt: m.attempt, executor: id, .started)
                }) else {
                    executors[k].taken.remove("\(m.task)-\(m.attempt)")
                    executors[k].inbox.append((now + FuzzRun.step, m))  // ask again when the plane is back
                    continue
                }
                guard run else {
                    log("executor \(id): task \(m.task) attempt \(m.attempt) is stale, not run")
                    continue
                }
                try await checkAccepted(task: m.task, attempt: m.attempt, executor: id, started: true)
                let runtime = TimeSpan.seconds(max(0.02, runtimes.exponential(mean: shape.meanRuntime)))
                executors[k].running.append((m.task, m.attempt, now + runtime))
                log("executor \(id) runs task \(m.task) attempt \(m.attempt)")
                if llm.bernoulli(shape.llmShare) { try await routeCall(k, now) }
            }
        }
    }

    /// Work whose time is up ends (agents here never fail): its result waits to be sent.
    func finishWork(_ k: Int, _ now: Instant) {
        let done = executors[k].running.filter { $0.ends <= now }
        executors[k].running.removeAll { $0.ends <= now }
        for d in done {
            executors[k].unsent.append(ReportItem(task: d.task, attempt: d.attempt, report: .succeeded(output: nil)))
        }
    }

    func sendReports(_ k: Int) async throws {
        let id = executors[k].id
        while let r = executors[k].unsent.first {
            guard let accepted = await call("result \(r.task)", {
                try await plane.report(task: r.task, attempt: r.attempt, executor: id, r.report)
            }) else { return }  // the plane is down: sent again later
            executors[k].unsent.removeFirst()
            log("executor \(id): task \(r.task) attempt \(r.attempt) succeeded, \(accepted ? "accepted" : "stale")")
            if accepted { try await checkAccepted(task: r.task, attempt: r.attempt, executor: id, started: false) }
        }
    }

    // MARK: Invariants

    /// An accepted report is about the task's current attempt, as stored: the plane never
    /// lets two attempts of a task count.
    func checkAccepted(task: Int64, attempt: Int, executor: Int64, started: Bool) async throws {
        guard let row = await store.tasks[task]?.stored else {
            throw violation("no accepted task lost", "task \(task) was reported on but the store has no such task")
        }
        if started {
            guard row.state == "running", Int(row.attempt) == attempt, row.executor == executor else {
                throw violation("one attempt at a time", "the start of task \(task) attempt \(attempt) on executor \(executor) "
                                + "was accepted, but the store holds attempt \(row.attempt) (\(row.state)) on "
                                + "\(row.executor.map(String.init) ?? "none")")
            }
        } else {
            guard row.state == "succeeded", Int(row.attempt) == attempt, await store.result(of: task, attempt: attempt) == true else {
                throw violation("one attempt at a time", "the result of task \(task) attempt \(attempt) was accepted, but the "
                                + "store holds attempt \(row.attempt) (\(row.state))")
            }
        }
    }

    /// After every step the driver is up: every accepted task is stored, no executor holds
    /// more attempts than its slots, and the plane and the store agree on each task not ended
    /// and on each the step changed (the only ones that can disagree: an ended task stays
    /// ended, `checkHistory`).
    func checkStoreAgrees() async throws {
        let rows = await store.tasks
        while ackChecked < acknowledged.count {
            let id = acknowledged[ackChecked]
            guard rows[id] != nil else { throw violation("no accepted task lost", "task \(id) was accepted but is not in the store") }
            ackChecked += 1
        }
        var ids = await store.unfinished
        for h in await store.history(from: historyCursor) { ids.insert(h.task) }
        // In any order first; only when something is wrong, in id order, so that the same
        // seed always names the same task.
        guard await disagreement(among: Array(ids), rows) != nil,
              let (invariant, detail) = await disagreement(among: ids.sorted(), rows) else { return }
        throw violation(invariant, detail)
    }

    private func disagreement(among ids: [Int64], _ rows: [Int64: MemoryPlaneStore.TaskRow]) async -> (String, String)? {
        var held: [Int64: [Int64]] = [:]
        for id in ids {
            guard let row = rows[id]?.stored, row.state == "dispatched" || row.state == "running", let e = row.executor else { continue }
            held[e, default: []].append(id)
        }
        for (e, tasks) in held.sorted(by: { $0.key < $1.key }) where tasks.count > shape.slots {
            return ("capacity", "executor \(e) holds \(tasks.count) attempts with \(shape.slots) slots: tasks "
                    + tasks.sorted().map(String.init).joined(separator: ", "))
        }
        for (id, record) in zip(ids, await plane.records(of: ids)) {
            guard let row = rows[id]?.stored else { continue }
            guard let r = record else {
                if !Self.ended.contains(row.state) {
                    return ("store and plane agree", "task \(id) is \(row.state) in the store, unknown to the plane")
                }
                continue
            }
            guard r.state.description == row.state, r.attempt == row.attempt else {
                return ("store and plane agree", "task \(id): store \(row.state)/\(row.attempt), plane \(r.state)/\(r.attempt)")
            }
        }
        return nil
    }

    /// Every state change is recorded once: no task's history repeats a row, and nothing
    /// follows an end (a cancelled task does not run on; a finished one is not lost after).
    func checkHistory() async throws {
        let rows = await store.history(from: historyCursor)
        historyCursor += rows.count
        if await store.repeatedStarts > 0 {
            throw violation("audited once", "an attempt's start was written twice (the store's index kept the repeat out)")
        }
        for h in rows {
            if let last = lastHistory[h.task], last.state == h.state, last.attempt == h.attempt {
                throw violation("audited once", "task \(h.task): \(h.state) of attempt \(h.attempt) recorded twice in a row")
            }
            if let last = lastHistory[h.task], Self.ended.contains(last.state) {
                throw violation("an ended task stays ended", "task \(h.task): \(h.state) of attempt \(h.attempt) recorded after "
                                + "\(last.state) of attempt \(last.attempt)")
            }
            lastHistory[h.task] = (h.state, h.attempt)
        }
    }

    /// Accepted tasks not ended (or not stored), in id order.
    func unfinished() async throws -> [Int64] {
        let rows = await store.tasks
        let open = await store.unfinished.filter { acknowledgedSet.contains($0) }
        return (open + acknowledged[ackChecked...].filter { rows[$0] == nil }).sorted()
    }

    func allEnded() async throws -> Bool {
        guard pendingKeyed.isEmpty, acknowledged[ackChecked...].isEmpty else { return false }
        return await !store.unfinished.contains(where: acknowledgedSet.contains)
    }
}
