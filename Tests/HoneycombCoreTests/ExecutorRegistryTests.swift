import HoneycombCore
import Testing

@Suite struct ExecutorRegistryTests {
    @Test func anExecutorSilentPastTheTimeoutIsDeclaredLostAndItsTasksRetried() {
        var h = PlaneHarness(config: PlaneConfig(heartbeatTimeout: .seconds(30.0)), agents: [smallAgent])
        let fx = h.send(.executorRegistered(ExecutorID(0), ExecutorSpec(labels: LabelSet(),
                        capacity: Resources(cpuMillis: 4000, memoryBytes: 1 << 33, slots: 2))))
        var liveness = h.timers(in: fx)[0]
        #expect(liveness.1 == Instant.zero + .seconds(30.0))
        h.submit(0)
        // A heartbeat at 20 s pushes the deadline to 50 s: the 30 s check re-arms instead.
        h.advance(.seconds(20.0))
        h.send(.executorHeartbeat(ExecutorID(0)))
        h.advance(.seconds(10.0))
        let check = h.send(.timerFired(liveness.0))
        #expect(h.plane.executors.state(of: ExecutorID(0)) == .online)
        liveness = h.timers(in: check)[0]
        #expect(liveness.1 == Instant.zero + .seconds(50.0))
        h.advance(.seconds(20.0))
        let lost = h.send(.timerFired(liveness.0))
        #expect(h.plane.executors.state(of: ExecutorID(0)) == .lost)
        #expect(h.state(0) == .backoff)
        #expect(lost.contains { if case .audit(let a) = $0 { a.kind == .executorLost } else { false } })
    }

    @Test func aLostExecutorThatSpeaksIsAskedToRegisterAgain() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.advance(.seconds(31.0))
        h.send(.timerFired(.liveness))
        #expect(h.ask(.executorHeartbeat(ExecutorID(0))) == .reregister)
    }

    @Test func aDrainingExecutorGetsNoNewTasksButFinishesItsOwn() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.submit(0)
        h.send(.executorDraining(ExecutorID(0)))
        #expect(h.submit(1) == nil)
        h.send(.taskSucceeded(TaskID(0), attempt: 1, on: ExecutorID(0)))
        #expect(h.state(0) == .succeeded)
        #expect(h.state(1) == .queued)
        h.send(.executorLeft(ExecutorID(0)))
        #expect(h.plane.executors.state(of: ExecutorID(0)) == .left)
        // It comes back: the queued task goes to it.
        let fx = h.send(.executorRegistered(ExecutorID(0), ExecutorSpec(labels: LabelSet(),
                        capacity: Resources(cpuMillis: 4000, memoryBytes: 1 << 33, slots: 4))))
        #expect(h.dispatches(in: fx).map(\.task) == [TaskID(1)])
    }

    @Test func anExecutorThatRegistersAgainWhileOnlineLosesItsEarlierTasks() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0, slots: 1)
        h.submit(0)
        h.register(0, slots: 1)
        // The task's attempt was lost with the old life and retried after backoff.
        #expect(h.state(0) == .backoff)
        #expect(h.plane.executors.tasks(on: ExecutorID(0)).isEmpty)
    }

    @Test func aLivenessTimerAfterAHeartbeatDeclaresNothingLost() {
        var h = PlaneHarness(agents: [smallAgent])
        h.register(0)
        h.register(0)
        h.advance(.seconds(31.0))
        h.send(.executorHeartbeat(ExecutorID(0)))
        h.send(.timerFired(.liveness))
        #expect(h.plane.executors.state(of: ExecutorID(0)) == .online)
    }

    /// Labels nothing reads (a hostname) do not split the fleet into classes of one: placement
    /// classes follow the labels selectors, spread and locality read; a selector naming a new
    /// label makes them again, and then places by it.
    @Test func placementClassesFollowTheLabelsPlacementReads() {
        var h = PlaneHarness(config: PlaneConfig(scheduler: SchedulerPolicy(spread: 1,
                                                                            spreadPolicy: .init(label: "zone"))),
                             agents: [smallAgent])
        for e in 0..<1000 {
            h.register(e, slots: 2, labels: [Label("host", "h\(e)"), Label("region", e % 2 == 0 ? "eu" : "us"),
                                             Label("zone", "z\(e % 3)")])
        }
        #expect(h.plane.executors.labelClasses.count == 1000)
        #expect(h.plane.executors.placementClasses.count == 6)
        #expect(h.plane.executors.placementKeys == ["region", "site", "zone"])
        for t in 0..<300 { #expect(h.submit(t) != nil) }
        let held = (0..<1000).reduce(0) { $0 + h.plane.executors.tasks(on: ExecutorID($1)).count }
        #expect(held == 300)

        let pinned = AgentDefinition(name: "pinned", requires: smallAgent.requires,
                                     selector: LabelSelector([("host", .equals("h7"))]))
        guard case .agent(let id) = h.ask(.agentPublished(pinned)) else { Issue.record("not published"); return }
        #expect(h.plane.executors.placementClasses.count == 1000)
        #expect(h.plane.executors.labels(of: ExecutorID(7))["host"] == "h7")
        let placed = h.dispatches(in: h.send(.taskSubmitted(TaskSpec(id: TaskID(300), agent: id)))).map(\.executor)
        #expect(placed == [ExecutorID(7)])
        // What ran before the classes changed ends cleanly, and the rest still places.
        for t in 0..<300 {
            let r = h.plane.tasks[TaskID(t)]!
            h.send(.taskSucceeded(TaskID(t), attempt: r.attempt, on: ExecutorID(r.executor)))
        }
        #expect(h.plane.executors.tasks(on: ExecutorID(7)) == [TaskID(300)])
        for t in 301..<400 { #expect(h.submit(t) != nil) }
    }
}
