import HoneycombCore
@testable import HoneycombDriver
import Testing

/// The scheduler role's loop — election, takeover, a failed store, presence — in memory: the
/// loop `serve` runs on PostgreSQL's advisory lock.
@Suite struct SchedulerReplicaTests {
    static var fast: SchedulerReplica.Timing {
        var t = SchedulerReplica.Timing()
        t.retry = .milliseconds(5)
        t.tick = .milliseconds(2)
        t.refillEvery = 5
        return t
    }

    /// Polls `condition` for up to five seconds.
    static func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<2500 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return false
    }

    static func replica(_ h: DriverHarness, _ lock: MemoryLeaderLock, _ id: Int, presence: MemoryPresence? = nil) -> SchedulerReplica {
        let io = PlaneIO(store: h.store, bus: h.bus, presence: presence, clock: h.clock)
        return SchedulerReplica(config: h.config, seed: UInt64(id), election: MemoryElection(lock: lock, replica: id, io: io),
                                timing: fast)
    }

    @Test func theStandbyTakesOverWhenTheLeaderCrashesAndRunsNothingTwice() async throws {
        let h = await DriverHarness.make()
        let lock = MemoryLeaderLock()
        let a = Self.replica(h, lock, 1), b = Self.replica(h, lock, 2)
        let runA = Task { await a.run() }
        #expect(await Self.eventually { a.plane != nil })
        let runB = Task { await b.run() }
        let leader = try #require(a.plane)
        try await leader.register(executor: 7, DriverHarness.spec)
        let running = try await leader.submit(DriverHarness.submission(1))
        let dispatched = try await leader.submit(DriverHarness.submission(2))
        #expect(try await leader.report(task: running.id, attempt: 1, executor: 7, .started))
        // While the leader holds the role, the standby only competes.
        try await Task.sleep(for: .milliseconds(30))
        #expect(b.plane == nil && b.terms == 0)
        #expect(await lock.holder == 1)
        // The leader crashes: its task is cancelled and its session (the lock) goes with it.
        runA.cancel()
        await runA.value
        #expect(a.plane == nil)
        #expect(await Self.eventually { b.plane != nil })
        let successor = try #require(b.plane)
        #expect(await successor.state(of: running.id) == "running")
        #expect(await successor.state(of: dispatched.id) == "dispatched")
        // The attempt under way finishes on the new leader; nothing was dispatched twice.
        #expect(try await successor.heartbeat(executor: 7) == false)
        #expect(try await successor.report(task: running.id, attempt: 1, executor: 7, .succeeded(output: nil)))
        #expect(await Self.eventually { await h.bus.messages(to: 7).map(\.task) == [running.id, dispatched.id] })
        #expect(await h.store.history(of: running.id).map(\.state) == ["submitted", "dispatched", "running", "succeeded"])
        // Stopped gracefully, the role is free again.
        b.stop()
        await runB.value
        #expect(await lock.holder == nil)
    }

    @Test func aFailedWriteEndsTheTermAndTheReplicaLeadsAgainFromTheStore() async throws {
        let h = await DriverHarness.make()
        let lock = MemoryLeaderLock()
        let a = Self.replica(h, lock, 1)
        let run = Task { await a.run() }
        #expect(await Self.eventually { a.plane != nil })
        let first = try #require(a.plane)
        try await first.register(executor: 7, DriverHarness.spec)
        await h.store.inject(.loseReply)
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await first.submit(DriverHarness.submission(1)) }
        // A new term, rebuilt from the store: the task whose reply was lost is there, once.
        #expect(await Self.eventually { a.terms == 2 && a.plane != nil })
        let second = try #require(a.plane)
        let id = try #require(await h.store.tasks.keys.first)
        #expect(await second.state(of: id) == "dispatched")
        #expect(await Self.eventually { await h.bus.messages(to: 7).map(\.task) == [id] })
        a.stop()
        await run.value
    }

    @Test func presenceIsRenewedBesideTheLoopAndRefilledAfterAFlush() async throws {
        let h = await DriverHarness.make()
        let presence = MemoryPresence()
        let lock = MemoryLeaderLock()
        let a = Self.replica(h, lock, 1, presence: presence)
        let run = Task { await a.run() }
        #expect(await Self.eventually { a.plane != nil })
        let plane = try #require(a.plane)
        try await plane.register(executor: 7, DriverHarness.spec)
        #expect(await Self.eventually { await presence.keys[7] != nil })
        // A key lost alone waits for its executor's next heartbeat: the periodic look finds
        // the last refill's mark and writes nothing (two looks later, it is still gone).
        #expect(await Self.eventually { await presence.refillMark })
        await presence.remove(7)
        let looks = await presence.refillChecks
        #expect(await Self.eventually { await presence.refillChecks >= looks + 2 })
        #expect(await presence.keys[7] == nil)
        // Redis restarted (the mark went with everything else): the plane's online executors
        // come back without a heartbeat.
        await presence.flush()
        #expect(await Self.eventually { await presence.keys[7] != nil })
        #expect(await presence.refillMark)
        a.stop()
        await run.value
    }
}
