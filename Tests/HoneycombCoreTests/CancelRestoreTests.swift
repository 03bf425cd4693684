import HoneycombCore
import Testing

@Suite struct CancelRestoreTests {
    @Test func aQueuedTaskCancelledLeavesTheQueue() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0, slots: 1)
        h.submit(0)
        h.submit(1)
        h.submit(2)
        let fx = h.send(.taskCancelled(TaskID(1)))
        #expect(h.ended(in: fx).map(\.1) == [.cancelled])
        #expect(h.plane.queuedCount == 1)
        // When the slot frees, task 2 goes, not the cancelled task 1.
        let next = h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.dispatches(in: next).map(\.task) == [TaskID(2)])
        #expect(h.state(1) == .cancelled)
    }

    @Test func aRunningTaskCancelledIsStoppedAndItsSlotFreed() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0, slots: 1)
        h.submit(0)
        h.submit(1)
        h.send(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0)))
        let fx = h.send(.taskCancelled(TaskID(0)))
        #expect(fx.contains { if case .stop(TaskID(0), 1, ExecutorID(0)) = $0 { true } else { false } })
        #expect(h.dispatches(in: fx).map(\.task) == [TaskID(1)])
        // Its late report is stale; cancelling again, or an ended task, changes nothing.
        #expect(h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0))).isEmpty)
        #expect(h.send(.taskCancelled(TaskID(0))).isEmpty)
        #expect(h.state(0) == .cancelled)
    }

    @Test func aTaskBackingOffCancelledIsNotRetried() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.submit(0)
        let fx = h.send(.taskFailed(TaskID(0), attempt: 1, on: ExecutorID(0)))
        let retry = h.timers(in: fx).first!
        h.send(.taskCancelled(TaskID(0)))
        h.now = retry.1
        #expect(h.dispatches(in: h.send(.timerFired(retry.0))).isEmpty)
        #expect(h.state(0) == .cancelled)
    }

    static func restored(_ id: Int, attempt: UInt16, on executor: Int?, state: TaskState? = nil) -> PlaneSnapshot.Task {
        PlaneSnapshot.Task(spec: TaskSpec(id: TaskID(id), agent: AgentID(0)), state: state ?? (executor == nil ? .queued : .dispatched),
                           attempt: attempt, executor: executor.map { ExecutorID($0) }, submittedAt: .zero)
    }

    static let oneSlot = ExecutorSpec(labels: LabelSet(), capacity: Resources(cpuMillis: 4000, memoryBytes: 8 << 30, slots: 1))

    @Test func restoredTasksKeepTheirExecutorsOrWaitForTheirNextAttempt() {
        var h = PlaneHarness(agents: [])
        // Given in an order that would over-commit executor 0 if followed: the plane takes the
        // attempt under way (task 5, attempt 2, running on executor 0) back first.
        let fx = h.send(.restored(PlaneSnapshot(
            agents: [smallAgent], executors: [.init(id: ExecutorID(0), spec: Self.oneSlot)],
            tasks: [Self.restored(7, attempt: 0, on: nil), Self.restored(6, attempt: 1, on: 9),
                    Self.restored(5, attempt: 2, on: 0, state: .running)])))
        #expect(h.dispatches(in: fx).isEmpty)
        #expect(h.state(5) == .running && h.state(6) == .queued && h.state(7) == .queued)
        #expect(h.plane.executors.used[0].slots == 1)
        // Only what changed is audited: task 6's attempt, lost with its executor.
        let audited = fx.compactMap { if case .audit(let a) = $0 { [Int(a.task), Int(a.kind.rawValue)] } else { nil } }
        #expect(audited == [[6, Int(AuditEvent.Kind.taskAttemptLost.rawValue)], [6, Int(AuditEvent.Kind.taskQueued.rawValue)]])
        // Task 6 was dispatched to executor 9, which is gone: it goes next, as attempt 2.
        let next = h.send(.taskSucceeded(TaskID(5), attempt: 2, on: ExecutorID(0)))
        #expect(h.dispatches(in: next).map { [$0.task.index, Int($0.attempt)] } == [[6, 2]])
    }

    @Test func aTaskRestoredFromBackoffIsQueuedAndThatIsRecorded() {
        // Found by `honeycomb fuzz`: unrecorded, the store kept `backoff` while the plane had it queued.
        var h = PlaneHarness(agents: [])
        let fx = h.send(.restored(PlaneSnapshot(agents: [smallAgent],
                                                tasks: [Self.restored(4, attempt: 1, on: nil, state: .backoff)])))
        #expect(h.state(4) == .queued)
        #expect(fx.contains { if case .audit(let a) = $0 { a.task == 4 && a.kind == .taskQueued } else { false } })
    }

    @Test func anExecutorTheStoreHadLostKeepsItsAttemptsForOneLease() {
        var h = PlaneHarness(config: PlaneConfig(lease: .seconds(20)), agents: [])
        let fx = h.send(.restored(PlaneSnapshot(
            agents: [smallAgent], executors: [.init(id: ExecutorID(3), spec: Self.oneSlot, state: .lost)],
            tasks: [Self.restored(1, attempt: 1, on: 3, state: .running)])))
        #expect(h.plane.executors.state(of: ExecutorID(3)) == .lost)
        #expect(h.state(1) == .running)
        let lease = h.timers(in: fx).first { if case .leaseExpiry = $0.0 { true } else { false } }!
        #expect(lease.1 == Instant.zero + .seconds(20))
        h.now = lease.1
        h.send(.timerFired(lease.0))
        #expect(h.state(1) == .backoff)
    }

    /// An executor's silence goes on across a restore: counted from its last word while a plane
    /// was listening, never from the restore, and never over time no plane could hear.
    @Test func aRestoreGrantsNoFreshTimeoutToAnExecutorAlreadySilent() {
        var h = PlaneHarness(config: PlaneConfig(heartbeatTimeout: .seconds(30)), agents: [])
        h.now = Instant.zero + .seconds(100)
        // The plane last wrote at 60 s, then stopped (its store went away) until now, 100 s.
        // Executor 1 had been silent since 20 s; 2 was heard at 50 s; 3 at 59 s (just before).
        let fx = h.send(.restored(PlaneSnapshot(
            agents: [smallAgent],
            executors: [.init(id: ExecutorID(1), spec: Self.oneSlot, lastHeard: .zero + .seconds(20)),
                        .init(id: ExecutorID(2), spec: Self.oneSlot, lastHeard: .zero + .seconds(50)),
                        .init(id: ExecutorID(3), spec: Self.oneSlot, lastHeard: .zero + .seconds(59)),
                        .init(id: ExecutorID(4), spec: Self.oneSlot)],
            listeningUntil: .zero + .seconds(60))))
        // One liveness timer, for the longest silent: 1, 40 s silent while heard, due at once.
        #expect(h.timers(in: fx).filter { $0.0 == .liveness }.map(\.1) == [h.now])
        // Then each falls due when the rest of its 30 s runs out: 2 at 120 s, 3 at 129 s,
        // 4 (unknown to the store's listening plane: a full timeout) at 130 s.
        var lost: [(Int32, Int64)] = []
        var next = h.now
        for _ in 0..<10 {
            h.now = next
            let fired = h.send(.timerFired(.liveness))
            for case .audit(let a) in fired where a.kind == .executorLost { lost.append((a.executor, h.now.nanoseconds / 1_000_000_000)) }
            guard let t = h.timers(in: fired).first(where: { $0.0 == .liveness }) else { break }
            next = t.1
        }
        #expect(lost.map(\.0) == [1, 2, 3, 4])
        #expect(lost.map(\.1) == [100, 120, 129, 130])
    }

    @Test func aLeaseRestoredRunsFromTheExecutorsLastWord() {
        var h = PlaneHarness(config: PlaneConfig(lease: .seconds(20)), agents: [])
        h.now = Instant.zero + .seconds(100)
        let fx = h.send(.restored(PlaneSnapshot(
            agents: [smallAgent], executors: [.init(id: ExecutorID(3), spec: Self.oneSlot, state: .lost, lastHeard: .zero + .seconds(85))],
            tasks: [Self.restored(1, attempt: 1, on: 3, state: .running)], listeningUntil: .zero + .seconds(95))))
        let lease = h.timers(in: fx).first { if case .leaseExpiry = $0.0 { true } else { false } }!
        #expect(lease.1 == Instant.zero + .seconds(110))  // 10 s of its 20 were used while a plane listened
    }

    @Test func anAttemptNeverStartedIsTakenBackAtItsDeadline() {
        var h = PlaneHarness(config: PlaneConfig(retryBackoff: .seconds(1), startTimeout: .seconds(10)), agents: [smallAgent])
        h.register(0, slots: 1)
        let fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0))))
        let deadline = h.timers(in: fx).first { if case .startDeadline = $0.0 { true } else { false } }!
        #expect(deadline.1 == Instant.zero + .seconds(10))
        h.now = deadline.1
        let taken = h.send(.timerFired(deadline.0))
        #expect(taken.contains { if case .stop(TaskID(0), 1, ExecutorID(0)) = $0 { true } else { false } })
        #expect(h.state(0) == .backoff)
        #expect(h.plane.executors.used[0] == .zero)
        // A late start of that attempt is stale; the retry goes out as attempt 2.
        #expect(h.send(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0))).isEmpty)
        let retry = h.timers(in: taken).first { if case .retry = $0.0 { true } else { false } }!
        h.now = retry.1
        #expect(h.dispatches(in: h.send(.timerFired(retry.0))).map(\.attempt) == [2])
    }

    @Test func missedStartDeadlinesDoNotUseUpAttempts() {
        let once = AgentDefinition(name: "once", requires: Resources(cpuMillis: 1, memoryBytes: 0, slots: 1), maxAttempts: 1)
        var h = PlaneHarness(config: PlaneConfig(retryBackoff: .seconds(1), startTimeout: .seconds(10)), agents: [once])
        h.register(0)
        var fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0))))
        for attempt in 1...3 {
            let deadline = h.timers(in: fx).first { if case .startDeadline = $0.0 { true } else { false } }!
            h.now = deadline.1
            let taken = h.send(.timerFired(deadline.0))
            #expect(h.state(0) == .backoff, "attempt \(attempt)")
            let retry = h.timers(in: taken).first { if case .retry = $0.0 { true } else { false } }!
            h.now = retry.1
            fx = h.send(.timerFired(retry.0))
            #expect(h.dispatches(in: fx).map(\.attempt) == [UInt16(attempt + 1)])
        }
    }

    @Test func aStartedAttemptIgnoresItsDeadline() {
        var h = PlaneHarness(config: PlaneConfig(startTimeout: .seconds(10)), agents: [smallAgent])
        h.register(0)
        let fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0))))
        h.send(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0)))
        let deadline = h.timers(in: fx).first { if case .startDeadline = $0.0 { true } else { false } }!
        h.now = deadline.1
        #expect(h.send(.timerFired(deadline.0)).isEmpty)
        #expect(h.state(0) == .running)
    }
}
