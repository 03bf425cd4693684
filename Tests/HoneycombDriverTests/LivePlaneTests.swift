import HoneycombCore
@testable import HoneycombDriver
import Testing

/// The live driver's batch loop, rebuild, outbox and failover, in memory: the code that runs
/// in service, without a server.
struct DriverHarness {
    let store = MemoryPlaneStore()
    let bus = MemoryDispatchBus()
    let clock = ManualClock(Instant(nanoseconds: 1_000_000_000))
    let config = PlaneConfig(heartbeatTimeout: .seconds(30), lease: .seconds(60), startTimeout: .seconds(60))
    static let spec = ExecutorSpecBody(labels: [:], cpuMillis: 4000, memoryBytes: 8 << 30, slots: 2)

    /// A store holding one agent version (#1) and executor 7 enrolled.
    static func make() async -> DriverHarness {
        let h = DriverHarness()
        await h.store.add(agent: StoredAgent(id: 1, name: "echo", version: "1", cpuMillis: 100, memoryBytes: 1 << 20, labels: [:],
                                             maxAttempts: 3, bundleKey: "k", bundleSHA256: "00", signature: "00",
                                             publisherKey: "00", profile: "{}"))
        await h.store.add(user: 1, name: "alice")
        await h.store.put(executor: StoredExecutor(id: 7, name: "e7", state: "enrolled", spec: spec))
        return h
    }

    /// A replica's plane on this store, rebuilt and running.
    func replica(seed: UInt64 = 1, metrics: DriverMetrics = DriverMetrics()) async throws -> (LivePlane, Task<Void, Error>) {
        let plane = LivePlane(config: config, seed: seed, io: PlaneIO(store: store, bus: bus, presence: nil, clock: clock),
                              metrics: metrics)
        _ = try await plane.rebuild()
        let loop = Task { try await plane.run() }
        return (plane, loop)
    }

    static func submission(_ n: Int = 0, key: String? = nil) -> Submission {
        Submission(agentVersion: 1, userID: 1, tenant: .shared, priority: 0, input: "{\"n\":\(n)}", latencyTargetMs: nil,
                   idempotencyKey: key, requestHash: "h\(n)")
    }
}

@Suite struct LivePlaneTests {
    @Test func anAcceptedTaskIsDurableBeforeItIsDispatched() async throws {
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica()
        try await plane.register(executor: 7, DriverHarness.spec)
        let task = try await plane.submit(DriverHarness.submission())
        #expect(await h.store.tasks[task.id]?.stored.state == "dispatched")
        #expect(await h.bus.delivered.isEmpty)  // the dispatcher publishes beside the batches
        await plane.publishOutbox()
        let sent = await h.bus.messages(to: 7)
        #expect(sent.map(\.kind) == [.run] && sent.first?.task == task.id && sent.first?.attempt == 1)
        #expect(try await plane.report(task: task.id, attempt: 1, executor: 7, .started))
        #expect(try await plane.report(task: task.id, attempt: 1, executor: 7, .succeeded(output: "{}")))
        #expect(await h.store.tasks[task.id]?.stored.state == "succeeded")
        #expect(await h.store.history(of: task.id).map(\.state) == ["submitted", "dispatched", "running", "succeeded"])
        await plane.stop()
        _ = await loop.result
    }

    @Test func aFailedCommitAnswers503KeepsNothingAndTheReplicaRebuilds() async throws {
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica()
        try await plane.register(executor: 7, DriverHarness.spec)
        await h.store.inject(.fail)
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await plane.submit(DriverHarness.submission()) }
        // The loop stops on a failed write; the service rebuilds before running again.
        await #expect(throws: (any Error).self) { try await loop.value }
        #expect(await h.store.tasks.isEmpty)
        #expect(await h.bus.delivered.isEmpty)
        #expect(try await plane.rebuild().executors == 1)
        let loop2 = Task { try await plane.run() }
        let task = try await plane.submit(DriverHarness.submission())
        #expect(await h.store.tasks[task.id]?.stored.state == "dispatched")
        await plane.stop()
        _ = await loop2.result
    }

    @Test func aCommitWhoseReplyIsLostIsTakenBackFromTheStoreAndRunsOnce() async throws {
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica()
        try await plane.register(executor: 7, DriverHarness.spec)
        await h.store.inject(.loseReply)
        // The caller hears it failed, though it landed ...
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await plane.submit(DriverHarness.submission()) }
        _ = await loop.result
        #expect(await h.store.tasks.count == 1)
        #expect(await h.bus.delivered.isEmpty)  // nothing published before the write was known durable
        // ... and the rebuilt plane holds what the store holds: the task, dispatched once.
        _ = try await plane.rebuild()
        let id = await h.store.tasks.keys.first!
        #expect(await plane.state(of: id) == "dispatched")
        await plane.publishOutbox()
        #expect(await h.bus.messages(to: 7).map(\.task) == [id])
    }

    /// Executor 7 dies before the store goes away; executor 8 keeps heartbeating into the
    /// outage. The rebuild after a minute declares 7 lost at once, and keeps 8.
    @Test func aRebuildGrantsNoFreshTimeoutToAnExecutorThatDiedBeforeTheOutage() async throws {
        let h = await DriverHarness.make()
        await h.store.put(executor: StoredExecutor(id: 8, name: "e8", state: "enrolled", spec: DriverHarness.spec))
        let (plane, loop) = try await h.replica()
        try await plane.register(executor: 7, DriverHarness.spec)
        try await plane.register(executor: 8, DriverHarness.spec)
        for _ in 0..<7 {
            h.clock.advance(.seconds(5))
            _ = try await plane.heartbeat(executor: 8)
        }
        // 35 s on, 7 silent all along (its timer not yet fired); then the store fails.
        await h.store.inject(.fail)
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await plane.heartbeat(executor: 8) }
        _ = await loop.result
        h.clock.advance(.seconds(60))
        _ = try await plane.rebuild()
        let loop2 = Task { try await plane.run() }
        await plane.tick()
        await plane.settled()
        #expect(await plane.executorView(7)?.state == "lost")
        #expect(await plane.executorView(8)?.state == "online")
        // Ids the plane cannot hold (a store's bigint, a negative) have no view, and ask nothing of it.
        #expect(await plane.executorViews([8, -1, 9, Int64(Int32.max) + 1]).map { $0?.state } == ["online", nil, nil, nil])
        // 8 was heard as the outage began: the minute no plane could hear it is not held against it.
        h.clock.advance(.seconds(29))
        await plane.tick()
        await plane.settled()
        #expect(await plane.executorView(8)?.state == "online")
        await plane.stop()
        _ = await loop2.result
    }

    @Test func messagesTheBusRefusedGoOutFromTheOutboxOnce() async throws {
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica()
        try await plane.register(executor: 7, DriverHarness.spec)
        await h.bus.fail()
        // Durable, so accepted, though the bus refused its dispatch.
        let task = try await plane.submit(DriverHarness.submission())
        #expect(await plane.publishOutbox() == false)
        #expect(await h.bus.refused == 1)
        #expect(await h.bus.delivered.isEmpty)
        #expect(await plane.outboxDepth == 1)
        #expect(await h.store.tasks[task.id]?.stored.state == "dispatched")
        #expect(await plane.publishOutbox())
        #expect(await plane.publishOutbox())
        #expect(await h.bus.messages(to: 7).map(\.task) == [task.id])
        await plane.stop()
        _ = await loop.result
    }

    @Test func aStandbyTakingOverKeepsAttemptsUnderWayAndRunsNothingTwice() async throws {
        let h = await DriverHarness.make()
        let (a, loopA) = try await h.replica()
        try await a.register(executor: 7, DriverHarness.spec)
        let running = try await a.submit(DriverHarness.submission(1))
        let dispatched = try await a.submit(DriverHarness.submission(2))
        let waiting = try await a.submit(DriverHarness.submission(3))   // two slots: it waits
        #expect(try await a.report(task: running.id, attempt: 1, executor: 7, .started))
        await a.publishOutbox()
        // The active replica dies; the standby rebuilds from the same store.
        await a.stop()
        _ = await loopA.result
        let (b, loopB) = try await h.replica(seed: 2)
        #expect(await b.state(of: running.id) == "running")
        #expect(await b.state(of: dispatched.id) == "dispatched")
        #expect(await b.state(of: waiting.id) == "queued")
        // The dispatched attempt went out again with the same message id: the bus delivered it once.
        await b.publishOutbox()
        #expect(await h.bus.messages(to: 7).map(\.task) == [running.id, dispatched.id])
        // A report of the earlier leader's attempt counts on the new one.
        #expect(try await b.report(task: running.id, attempt: 1, executor: 7, .succeeded(output: nil)))
        #expect(await b.state(of: waiting.id) == "dispatched")
        await b.publishOutbox()
        #expect(await h.bus.messages(to: 7).map(\.task) == [running.id, dispatched.id, waiting.id])
        await b.stop()
        _ = await loopB.result
    }

    @Test func aReportFromAnotherExecutorIsStaleLiveAsInTheSimulator() async throws {
        let h = await DriverHarness.make()
        await h.store.put(executor: StoredExecutor(id: 8, name: "e8", state: "enrolled", spec: DriverHarness.spec))
        let (plane, loop) = try await h.replica()
        try await plane.register(executor: 7, DriverHarness.spec)
        let task = try await plane.submit(DriverHarness.submission())
        try await plane.register(executor: 8, DriverHarness.spec)
        #expect(try await !plane.report(task: task.id, attempt: 1, executor: 8, .started))
        #expect(await plane.counters.staleReports == 1)
        await plane.stop()
        _ = await loop.result
    }

    @Test func oneLedgerAnswersRepeatsInFlightAfterCommitAndAfterAFailover() async throws {
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica()
        // Two repeats queued together: one task.
        async let a = plane.submit([DriverHarness.submission(1)], key: .task("k1"))
        async let b = plane.submit([DriverHarness.submission(1)], key: .task("k1"))
        let (first, second) = try await (a[0], b[0])
        #expect(first.id == second.id && first.existing != second.existing)
        // After the commit, from the store: the same task, and its state.
        let again = try await plane.submit([DriverHarness.submission(1)], key: .task("k1"))[0]
        #expect(again == Submitted(id: first.id, existing: true, state: "queued"))
        // The key for another request is refused, and nothing is added.
        await #expect(throws: PlaneRefusal.keyReused("k1")) {
            try await plane.submit([DriverHarness.submission(2)], key: .task("k1"))
        }
        // A batch's key: the repeat gets the same tasks; a batch of another size is refused.
        let batch = [DriverHarness.submission(3), DriverHarness.submission(4)]
        let ids = try await plane.submit(batch, key: .batch("nightly")).map(\.id)
        #expect(try await plane.submit(batch, key: .batch("nightly")).map(\.id) == ids)
        await #expect(throws: PlaneRefusal.keyReusedForBatch("nightly")) {
            try await plane.submit(Array(batch.prefix(1)), key: .batch("nightly"))
        }
        await #expect(throws: PlaneRefusal.keyReusedForBatch("nightly")) {
            try await plane.submit(batch + [DriverHarness.submission(5)], key: .batch("nightly"))
        }
        await plane.stop()
        _ = await loop.result
        // A new leader remembers nothing in memory; the store answers.
        let (standby, loop2) = try await h.replica(seed: 2)
        #expect(try await standby.submit([DriverHarness.submission(1)], key: .task("k1"))[0].id == first.id)
        #expect(await h.store.tasks.count == 3)
        await standby.stop()
        _ = await loop2.result
    }

    @Test(.timeLimit(.minutes(1)))
    func aCommandAfterTheLoopStoppedIsRefusedAtOnceNotLeftWaiting() async throws {
        // Found by `honeycomb fuzz` (seed 4800): a command queued between a failed write and
        // the rebuild waited for ever.
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica()
        try await plane.register(executor: 7, DriverHarness.spec)
        await h.store.inject(.fail)
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await plane.heartbeat(executor: 7) }
        _ = await loop.result
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await plane.heartbeat(executor: 7) }
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await plane.submit(DriverHarness.submission()) }
        // Rebuilt, it takes commands again.
        _ = try await plane.rebuild()
        let loop2 = Task { try await plane.run() }
        #expect(try await plane.heartbeat(executor: 7) == false)
        await plane.stop()
        _ = await loop2.result
    }

    @Test func aKeyOfABatchThatDidNotLandMakesATaskWhenItComesAgain() async throws {
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica()
        await h.store.inject(.fail)
        await #expect(throws: PlaneRefusal.storeUnavailable) {
            try await plane.submit([DriverHarness.submission(1)], key: .task("retry-me"))
        }
        _ = await loop.result
        _ = try await plane.rebuild()
        let loop2 = Task { try await plane.run() }
        // The client's retry: a new task, stored — not the id of the batch that failed.
        let again = try await plane.submit([DriverHarness.submission(1)], key: .task("retry-me"))[0]
        #expect(!again.existing)
        #expect(await h.store.tasks[again.id] != nil)
        await plane.stop()
        _ = await loop2.result
    }
}
