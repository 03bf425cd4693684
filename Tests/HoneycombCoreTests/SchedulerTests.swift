import HoneycombCore
import Testing

@Suite struct SchedulerTests {
    @Test func aTaskGoesOnlyWhereItsResourcesFit() {
        let big = AgentDefinition(name: "big", requires: Resources(cpuMillis: 6000, memoryBytes: 1 << 30, slots: 1))
        var h = PlaneHarness(agents: [big])
        h.register(0, cpu: 4000)
        h.register(1, cpu: 8000)
        #expect(h.submit(0) == ExecutorID(1))
        // Executor 1 has 2000 millicores left: the next waits.
        #expect(h.submit(1) == nil)
    }

    @Test func aTaskGoesOnlyWhereItsLabelsMatch() {
        let arm = AgentDefinition(name: "arm", requires: Resources(cpuMillis: 100, memoryBytes: 0, slots: 1),
                                  selector: LabelSelector([("arch", .equals("arm64"))]))
        var h = PlaneHarness(agents: [arm])
        h.register(0, labels: [Label("arch", "amd64")])
        h.register(1, labels: [Label("arch", "arm64"), Label("region", "eu")])
        h.register(2, labels: [Label("region", "eu")])
        for t in 0..<3 { #expect(h.submit(t) == ExecutorID(1)) }
    }

    @Test func binPackFillsTheFullestExecutorFirst() {
        let config = PlaneConfig(scheduler: SchedulerPolicy(binpack: 1, leastLoaded: 0, candidates: .all))
        var h = PlaneHarness(config: config, agents: [smallAgent])
        for e in 0..<3 { h.register(e) }
        let first = h.submit(0)
        #expect(h.submit(1) == first)
        #expect(h.submit(2) == first)
    }

    @Test func leastLoadedSpreadsTasksOverTheFleet() {
        let config = PlaneConfig(scheduler: SchedulerPolicy(binpack: 0, leastLoaded: 1, candidates: .all))
        var h = PlaneHarness(config: config, agents: [smallAgent])
        for e in 0..<3 { h.register(e) }
        let placed = (0..<3).compactMap { h.submit($0) }
        #expect(Set(placed).count == 3)
    }

    @Test func aBlockedAgentDoesNotHoldUpAnotherAgentsTasks() {
        let big = AgentDefinition(name: "big", requires: Resources(cpuMillis: 8000, memoryBytes: 0, slots: 1))
        var h = PlaneHarness(agents: [smallAgent, big])
        h.register(0, cpu: 4000, slots: 2)
        h.submit(0, agent: 0)
        h.submit(1, agent: 1)  // never fits
        #expect(h.state(1) == .queued)
        // Task 2 is younger than the blocked task 1 but fits: it is placed.
        #expect(h.submit(2, agent: 0) == ExecutorID(0))
    }

    @Test func sampledScoringStillFindsTheOnlyFeasibleExecutor() {
        let config = PlaneConfig(scheduler: SchedulerPolicy(binpack: 1, leastLoaded: 0, candidates: .sample(1)))
        let arm = AgentDefinition(name: "arm", requires: Resources(cpuMillis: 100, memoryBytes: 0, slots: 1),
                                  selector: LabelSelector([("arch", .equals("arm64"))]))
        var h = PlaneHarness(config: config, agents: [arm])
        for e in 0..<50 { h.register(e, labels: [Label("arch", e == 37 ? "arm64" : "amd64")]) }
        #expect(h.submit(0) == ExecutorID(37))
    }
}
