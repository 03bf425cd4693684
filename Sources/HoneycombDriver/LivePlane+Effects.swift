import HoneycombCore

/// The plane's effects turned into rows to write and messages to publish; the outbox.
extension LivePlane {
    /// Publishes what the outbox holds, oldest first. What the bus does not take stays, in
    /// order, for the next call (message ids make a repeat harmless). Batches never wait for
    /// this: their commands are durable once committed, and the dispatcher (`awaitOutbox`,
    /// then this) publishes beside them. False when the bus refused.
    @discardableResult
    package func publishOutbox() async -> Bool {
        guard !publishing, !outbox.isEmpty else { return true }
        publishing = true
        defer { publishing = false }
        let sending = outbox
        outbox = []
        inFlight = sending.count
        do {
            try await io.bus.publish(sending)
            inFlight = 0
            metrics.dispatched.increment(by: sending.count)
            metrics.outboxMessages.record(outboxDepth)
            return true
        } catch {
            inFlight = 0
            metrics.publishErrors.increment()
            outbox = sending + outbox
            metrics.outboxMessages.record(outboxDepth)
            return false
        }
    }

    /// Waits until the outbox holds messages; false once the batch loop has ended (the
    /// dispatcher stops with it).
    package func awaitOutbox() async -> Bool {
        while outbox.isEmpty || publishing {
            if loopEnded || !running { return false }
            await withCheckedContinuation { outboxWake = $0 }
        }
        return true
    }

    func wakeDispatcher() {
        if let w = outboxWake { outboxWake = nil; w.resume() }
    }

    /// Messages waiting for the bus.
    /// Messages committed and not yet taken by the bus: those waiting, and those being sent.
    package var outboxDepth: Int { outbox.count + inFlight }

    /// Turns the plane's effects into rows to write, messages to publish and timers to keep.
    func absorb(_ fx: inout PlaneEffects, _ now: Instant, _ write: inout BatchWrite,
                        _ outgoing: inout [ExecutorMessage]) {
        var touched: [Int64] = []
        for effect in fx.list {
            switch effect {
            case .dispatch(let task, _, _):
                let id = Int64(task.rawValue)
                outgoing.append(runMessage(task: id, plane.tasks[task]!, now))
            case .preempt(let task, let attempt, let e), .stop(let task, let attempt, let e):
                outgoing.append(ExecutorMessage(kind: .stop, executor: Int64(e.rawValue), task: Int64(task.rawValue),
                                                attempt: Int(attempt)))
            case .setTimer(let timer, let at):
                timers.push(timer, at: at)
            case .taskEnded(let task, _):
                inputs[Int64(task.rawValue)] = nil
            case .llmWarmUp(let e, let model):
                outgoing.append(ExecutorMessage(kind: .warmUp, executor: Int64(e.rawValue), task: 0, attempt: 0,
                                                model: config.llm.models[model.index].name, dispatchedAtNs: now.nanoseconds))
            case .audit(let event):
                if event.task >= 0 {
                    touched.append(Int64(event.task))
                    write.history.append((Int64(event.task), Self.historyState(event.kind), Int(event.attempt),
                                          event.executor >= 0 ? Int64(event.executor) : nil, event.at.nanoseconds))
                } else if event.executor >= 0 {
                    // (An agent's publication is audited by the transaction that stored it.)
                    let (action, state) = Self.executorChange(event.kind)
                    write.audit.append(("plane", action, "executor/\(event.executor)", "{}", event.at.nanoseconds))
                    if let state { write.executorStates.append((Int64(event.executor), state)) }
                }
            case .llmAbandoned:
                metrics.llmAbandoned.increment()
            case .llmCallOpened(let record):
                write.llmOpened.append(config.stored(record))
            case .llmCallEnded(let id, let cost, let tokens):
                write.llmEnded.append((id, cost, tokens, now.nanoseconds))
            }
        }
        fx.removeAll()
        var seen = Set<Int64>()
        for id in touched where seen.insert(id).inserted {
            guard let r = plane.tasks[TaskID(Int32(id))] else { continue }
            write.taskStates.append((id, r.state.description, Int(r.attempt), r.executor >= 0 ? Int64(r.executor) : nil))
        }
    }

    func runMessage(task id: Int64, _ r: TaskRecord, _ now: Instant) -> ExecutorMessage {
        let row = agentRows[r.agent.index]
        return ExecutorMessage(kind: .run, executor: Int64(r.executor), task: id, attempt: Int(r.attempt), agent: row.name,
                               version: row.version, bundlePath: "/v1/agents/\(row.name)/versions/\(row.version)/bundle",
                               bundleSHA256: row.bundleSHA256, publisherKey: row.publisherKey, bundleSignature: row.signature,
                               input: inputs[id] ?? "{}", profile: row.profile, submittedAtNs: r.submittedAt.nanoseconds,
                               dispatchedAtNs: now.nanoseconds)
    }

    /// Every state a history row records (what the API's contract lists).
    package static let historyStates: [String] = [
        AuditEvent.Kind.taskSubmitted, .taskQueued, .taskDispatched, .taskStarted, .taskSucceeded, .taskAttemptFailed,
        .taskAttemptLost, .taskPreempted, .taskMoved, .taskRetryScheduled, .taskFailed, .taskLost, .taskCancelled,
    ].map(historyState)

    package static func historyState(_ kind: AuditEvent.Kind) -> String {
        switch kind {
        case .taskSubmitted: "submitted"
        case .taskQueued: "queued"
        case .taskDispatched: "dispatched"
        case .taskStarted: "running"
        case .taskSucceeded: "succeeded"
        case .taskAttemptFailed: "attempt_failed"
        case .taskAttemptLost: "attempt_lost"
        case .taskPreempted: "preempted"
        case .taskMoved: "moved"
        case .taskRetryScheduled: "backoff"
        case .taskFailed: "failed"
        case .taskLost: "lost"
        case .taskCancelled: "cancelled"
        default: "\(kind)"
        }
    }

    package static func executorChange(_ kind: AuditEvent.Kind) -> (action: String, state: String?) {
        switch kind {
        case .executorRegistered: ("executor.registered", "online")
        case .executorRejoined: ("executor.rejoined", "online")
        case .executorRecovered: ("executor.recovered", "online")
        case .executorDraining: ("executor.draining", "draining")
        case .executorLeft: ("executor.left", "left")
        case .executorLost: ("executor.lost", "lost")
        default: ("\(kind)", nil)
        }
    }
}
