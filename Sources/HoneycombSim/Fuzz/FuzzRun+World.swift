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
                guard executors[k].running.count < shape.slots else {
                    throw violation("capacity", "executor \(id) was given task \(m.task) with all \(shape.slots) slots busy: "
                                    + executors[k].running.map { "\($0.task)/\($0.attempt)" }.joined(separator: " "))
                }
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

    /// After every step the driver is up: every accepted task is stored, and the plane and the
    /// store agree on each unfinished task.
    func checkStoreAgrees() async throws {
        let rows = await store.tasks
        for id in acknowledged where rows[id] == nil {
            throw violation("no accepted task lost", "task \(id) was accepted but is not in the store")
        }
        for (id, row) in rows.sorted(by: { $0.key < $1.key }) {
            guard let r = await plane.record(of: id) else {
                if !["succeeded", "failed", "lost", "cancelled"].contains(row.stored.state) {
                    throw violation("store and plane agree", "task \(id) is \(row.stored.state) in the store, unknown to the plane")
                }
                continue
            }
            guard r.state.description == row.stored.state, r.attempt == row.stored.attempt else {
                throw violation("store and plane agree", "task \(id): store \(row.stored.state)/\(row.stored.attempt), "
                                + "plane \(r.state)/\(r.attempt)")
            }
        }
    }

    /// Every state change is recorded once: no task's history repeats a row.
    func checkHistory() async throws {
        let rows = await store.history(from: historyCursor)
        historyCursor += rows.count
        for h in rows {
            if let last = lastHistory[h.task], last.state == h.state, last.attempt == h.attempt {
                throw violation("audited once", "task \(h.task): \(h.state) of attempt \(h.attempt) recorded twice in a row")
            }
            lastHistory[h.task] = (h.state, h.attempt)
        }
    }

    func unfinished() async throws -> [Int64] {
        let rows = await store.tasks
        return acknowledged.filter { id in
            guard let s = rows[id]?.stored.state else { return true }
            return !["succeeded", "failed", "lost", "cancelled"].contains(s)
        }
    }

    func allEnded() async throws -> Bool { try await unfinished().isEmpty }
}
