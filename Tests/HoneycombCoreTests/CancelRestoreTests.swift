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
        let next = h.send(.taskSucceeded(TaskID(0), attempt: 1))
        #expect(h.dispatches(in: next).map(\.task) == [TaskID(2)])
        #expect(h.state(1) == .cancelled)
    }

    @Test func aRunningTaskCancelledIsStoppedAndItsSlotFreed() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0, slots: 1)
        h.submit(0)
        h.submit(1)
        h.send(.taskStarted(TaskID(0), attempt: 1))
        let fx = h.send(.taskCancelled(TaskID(0)))
        #expect(fx.contains { if case .stop(TaskID(0), 1, ExecutorID(0)) = $0 { true } else { false } })
        #expect(h.dispatches(in: fx).map(\.task) == [TaskID(1)])
        // Its late report is stale; cancelling again, or an ended task, changes nothing.
        #expect(h.send(.taskSucceeded(TaskID(0), attempt: 1)).isEmpty)
        #expect(h.send(.taskCancelled(TaskID(0))).isEmpty)
        #expect(h.state(0) == .cancelled)
    }

    @Test func aTaskBackingOffCancelledIsNotRetried() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.submit(0)
        let fx = h.send(.taskFailed(TaskID(0), attempt: 1))
        let retry = h.timers(in: fx).first!
        h.send(.taskCancelled(TaskID(0)))
        h.now = retry.1
        #expect(h.dispatches(in: h.send(.timerFired(retry.0))).isEmpty)
        #expect(h.state(0) == .cancelled)
    }

    @Test func restoredTasksKeepTheirExecutorsOrWaitForTheirNextAttempt() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0, slots: 1)
        // Task 5 ran on executor 0 (attempt 2): it stays there, holding the slot.
        let kept = h.send(.taskRestored(TaskSpec(id: TaskID(5), agent: AgentID(0)), attempt: 2,
                                        executor: ExecutorID(0), running: true, submittedAt: .zero))
        #expect(h.dispatches(in: kept).isEmpty)
        #expect(h.state(5) == .running)
        #expect(h.plane.executors.used[0].slots == 1)
        // Task 6 was dispatched to executor 9, which is gone: it waits, then gets attempt 2.
        h.send(.taskRestored(TaskSpec(id: TaskID(6), agent: AgentID(0)), attempt: 1,
                             executor: ExecutorID(9), running: false, submittedAt: .zero))
        #expect(h.state(6) == .queued)
        let next = h.send(.taskSucceeded(TaskID(5), attempt: 2))
        #expect(h.dispatches(in: next).map { [$0.task.index, Int($0.attempt)] } == [[6, 2]])
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
        #expect(h.send(.taskStarted(TaskID(0), attempt: 1)).isEmpty)
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
        h.send(.taskStarted(TaskID(0), attempt: 1))
        let deadline = h.timers(in: fx).first { if case .startDeadline = $0.0 { true } else { false } }!
        h.now = deadline.1
        #expect(h.send(.timerFired(deadline.0)).isEmpty)
        #expect(h.state(0) == .running)
    }
}
