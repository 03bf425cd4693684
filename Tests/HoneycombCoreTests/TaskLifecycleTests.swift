import HoneycombCore
import Testing

@Suite struct TaskLifecycleTests {
    @Test func aTaskGoesFromSubmissionToSuccess() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        let fx = h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0))))
        #expect(h.dispatches(in: fx).map(\.executor) == [ExecutorID(0)])
        #expect(h.state(0) == .dispatched)
        h.send(.taskStarted(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.state(0) == .running)
        let end = h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.ended(in: end).map(\.1) == [.succeeded])
        #expect(h.plane.executors.used[0] == .zero)
    }

    /// `readAhead` is a hint for the cache: the same inputs with and without it give the same
    /// run, and it answers for ids the plane never saw (or cannot hold) without trapping.
    @Test func readingAheadChangesNothing() {
        func run(readingAhead: Bool) -> (dispatched: [Int32], ended: [TaskState], used: Resources, queued: Int) {
            var h = PlaneHarness(agents: [smallAgent])
            h.register(0, slots: 1)
            h.register(1, slots: 1)
            var dispatched: [Int32] = [], ended: [TaskState] = []
            for t in 0..<4 { dispatched += h.dispatches(in: h.send(.taskSubmitted(TaskSpec(id: TaskID(t), agent: AgentID(0))))).map(\.executor.rawValue) }
            for t in 0..<4 {
                guard let r = h.plane.tasks[TaskID(t)], r.state == .dispatched else { continue }
                let e = ExecutorID(Int(r.executor))
                if readingAhead {
                    _ = h.plane.readAhead(task: TaskID(t), on: e)
                    _ = h.plane.readAhead(task: TaskID(1_000), on: ExecutorID(1_000))
                    _ = h.plane.readAhead(task: TaskID(-1), on: ExecutorID(-1))
                }
                h.send(.taskStarted(TaskID(t), attempt: 1, on: e))
                let fx = h.send(.taskSucceeded(TaskID(t), attempt: 1, on: e))
                dispatched += h.dispatches(in: fx).map(\.executor.rawValue)
                ended += h.ended(in: fx).map(\.1)
            }
            return (dispatched, ended, h.plane.executors.used[0] + h.plane.executors.used[1], h.plane.queuedCount)
        }
        let plain = run(readingAhead: false), ahead = run(readingAhead: true)
        #expect(plain.dispatched == ahead.dispatched)
        #expect(plain.ended == ahead.ended)
        #expect(plain.used == ahead.used)
        #expect(plain.queued == ahead.queued)
        #expect(ahead.ended == [TaskState](repeating: .succeeded, count: 4))
    }

    @Test func aTaskWithNoCapacityWaitsAndIsPlacedWhenCapacityFrees() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0, slots: 1)
        #expect(h.submit(0) == ExecutorID(0))
        #expect(h.submit(1) == nil)
        #expect(h.submit(2) == nil)
        #expect(h.state(1) == .queued)
        #expect(h.plane.queuedCount == 2)
        // First in, first out: task 1 goes before task 2.
        let fx = h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.dispatches(in: fx).map(\.task) == [TaskID(1)])
        #expect(h.state(2) == .queued)
    }

    @Test func aFailedAttemptIsRetriedAfterBackoffUntilAttemptsRunOut() {
        let agent = AgentDefinition(name: "flaky", requires: Resources(cpuMillis: 100, memoryBytes: 0, slots: 1),
                                    maxAttempts: 2)
        var h = PlaneHarness(config: PlaneConfig(retryBackoff: .seconds(2.0)), agents: [agent])
        h.register(0)
        h.submit(0)
        let fx = h.send(.taskFailed(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.state(0) == .backoff)
        let retry = h.timers(in: fx).first { if case .retry = $0.0 { true } else { false } }
        #expect(retry?.1 == Instant.zero + .seconds(2.0))
        h.advance(.seconds(2.0))
        let again = h.send(.timerFired(retry!.0))
        #expect(h.dispatches(in: again).map(\.attempt) == [2])
        let last = h.send(.taskFailed(TaskID(0), attempt: 2, on: ExecutorID(0)))
        #expect(h.ended(in: last).map(\.1) == [.failed])
        #expect(h.plane.counters.retried == 1)
    }

    @Test func reportsAboutAnOldAttemptAreIgnored() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.submit(0)
        h.send(.taskFailed(TaskID(0), attempt: 1, on: ExecutorID(0)))
        // The first attempt's success arrives late: it must not end the task.
        let fx = h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.ended(in: fx).isEmpty)
        #expect(h.state(0) == .backoff)
        #expect(h.plane.counters.staleReports == 1)
    }

    @Test func backoffDoublesUpToItsCap() {
        let c = PlaneConfig(retryBackoff: .seconds(1.0), retryBackoffMax: .seconds(5.0))
        #expect([1, 2, 3, 4, 5].map { c.backoff(after: $0) } ==
                [.seconds(1.0), .seconds(2.0), .seconds(4.0), .seconds(5.0), .seconds(5.0)])
    }

    @Test func everyStateChangeIsAudited() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        let kinds = h.send(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0)))).compactMap {
            if case .audit(let a) = $0 { a.kind } else { nil }
        }
        #expect(kinds == [.taskSubmitted, .taskDispatched])
    }
}

@Suite struct AgentRegistryTests {
    @Test func aPublishedVersionNeverChanges() {
        var r = AgentRegistry()
        let a = r.register(smallAgent)
        var bigger = smallAgent
        bigger.requires.cpuMillis = 8000
        #expect(r.register(bigger) == a)
        #expect(r[a].requires.cpuMillis == 1000)
        bigger.version = "2"
        #expect(r.register(bigger) != a)
        #expect(r.id(named: "small") == AgentID(1))
    }
}
