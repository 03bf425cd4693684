import HoneycombCore
import Synchronization

/// One term as the active scheduler: the I/O the leader's plane runs on (its store writes go
/// through the session that holds the role, so a replica that has lost the role cannot
/// write), and how the term is given up.
package struct SchedulerTerm: Sendable {
    package var io: PlaneIO
    package var end: @Sendable () async -> Void
    package init(io: PlaneIO, end: @escaping @Sendable () async -> Void) {
        self.io = io
        self.end = end
    }
}

/// How a replica becomes the active scheduler: PostgreSQL's advisory lock in service, a lock
/// in memory in tests and under the fuzzer.
package protocol LeaderElection: Sendable {
    /// One try at the role: a term when this replica won it, nil while another holds it.
    func campaign() async throws -> SchedulerTerm?
}

/// A replica's scheduler role: it competes for the role, and once it holds it rebuilds the
/// plane from the store and runs it (batches, timers, the outbox, presence) until the store
/// fails, the term is lost, or it is stopped; then it gives the role up and competes again.
/// The same loop runs in service, in memory and under the fuzzer.
package final class SchedulerReplica: Sendable {
    package struct Timing: Sendable {
        /// Between tries at the role, and after a term ended in a failure.
        package var retry: Duration = .milliseconds(500)
        /// Timers are checked this often.
        package var tick: Duration = .milliseconds(20)
        /// Ticks between looks at whether presence needs a refill (`LivePlane.refillPresenceIfLost`).
        package var refillEvery = 500
        /// The longest wait between tries while the bus refuses.
        package var publishBackoffLimit: Duration = .seconds(2)
        package init() {}
    }

    private let config: PlaneConfig
    private let seed: UInt64
    private let election: any LeaderElection
    private let timing: Timing
    private let metrics: DriverMetrics
    private let log: @Sendable (String) -> Void
    private let active = Mutex<LivePlane?>(nil)
    private let lastStanding = Mutex<Standing>(.standby)
    private let stopped = Atomic<Bool>(false)
    /// Terms this replica has begun (a test waits for a takeover by it).
    private let termsBegun = Atomic<Int>(0)

    package init(config: PlaneConfig, seed: UInt64, election: any LeaderElection, timing: Timing = Timing(),
                 metrics: DriverMetrics = DriverMetrics(), log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.config = config
        self.seed = seed
        self.election = election
        self.timing = timing
        self.metrics = metrics
        self.log = log
    }

    /// The plane, while this replica is the active scheduler.
    package var plane: LivePlane? { active.withLock { $0 } }
    package var terms: Int { termsBegun.load(ordering: .relaxed) }

    /// Why a replica is or is not leading: what its API tells a caller it cannot serve.
    package enum Standing: Sendable, Equatable {
        case leading
        /// Another replica holds the role.
        case standby
        /// The store failed the last try at the role, or ended the last term.
        case storeUnavailable
    }

    package var standing: Standing { plane != nil ? .leading : lastStanding.withLock { $0 } }

    /// Competes for the role and leads until cancelled or `stop()`.
    package func run() async {
        while !Task.isCancelled && !stopped.load(ordering: .relaxed) {
            do {
                let won: SchedulerTerm?
                do { won = try await election.campaign() } catch { metrics.storeErrors.increment(); throw error }
                guard let term = won else {
                    lastStanding.withLock { $0 = .standby }
                    try? await Task.sleep(for: timing.retry)
                    continue
                }
                do {
                    try await lead(term)
                    await term.end()
                } catch {
                    await term.end()
                    throw error
                }
            } catch {
                if Task.isCancelled || stopped.load(ordering: .relaxed) { break }
                lastStanding.withLock { $0 = .storeUnavailable }
                log("scheduler stopped (\(error)); competing for the role again")
                try? await Task.sleep(for: timing.retry)
            }
        }
    }

    /// Graceful: the plane refuses new commands and finishes the batch in hand; `run` returns.
    package func stop() {
        stopped.store(true, ordering: .relaxed)
        if let p = plane { Task { await p.stop() } }
    }

    private func lead(_ term: SchedulerTerm) async throws {
        let live = LivePlane(config: config, seed: seed, io: term.io, metrics: metrics)
        let (executors, tasks) = try await live.rebuild()
        // Presence is a cache: Redis being away must not keep this replica from leading.
        await live.refillPresence()
        log("active scheduler: rebuilt \(executors) executors and \(tasks) unfinished tasks from the store; placement seed \(seed)")
        active.withLock { $0 = live }
        termsBegun.add(1, ordering: .relaxed)
        metrics.noteLeading()
        defer {
            active.withLock { $0 = nil }
            metrics.noteStandby()
        }
        if stopped.load(ordering: .relaxed) { await live.stop() }
        do {
          try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await live.run() }
                group.addTask { [timing] in
                    while !Task.isCancelled {
                        try await Task.sleep(for: timing.tick)
                        await live.tick()
                    }
                }
                // The dispatcher: publishes what batches commit, beside them, so that a slow or
                // absent bus never holds up a request; backs off while the bus refuses.
                group.addTask { [timing] in
                    var backoff = timing.tick
                    while await live.awaitOutbox() {
                        if await live.publishOutbox() {
                            backoff = timing.tick
                        } else {
                            try await Task.sleep(for: backoff)
                            backoff = min(backoff * 2, timing.publishBackoffLimit)
                        }
                    }
                }
                // Presence (a cache) on a loop of its own: a slow Redis never holds up the timers.
                group.addTask { [timing] in
                    var ticks = 0
                    while !Task.isCancelled {
                        try await Task.sleep(for: timing.tick)
                        await live.flushPresence()
                        ticks += 1
                        if ticks % timing.refillEvery == 0 { await live.refillPresenceIfLost() }
                    }
                }
                // The loop ends (stopped, or a write failed): the ticker goes with it.
                try await group.next()
                group.cancelAll()
            }
          } onCancel: {
            Task { await live.stop() }
          }
        } catch {
            // A failed write ended the loop: refuse what is still queued, and give the term up.
            await live.stop()
            throw error
        }
        await live.stop()
    }
}

/// The role in memory: one holder at a time among the replicas sharing the lock.
package actor MemoryLeaderLock {
    package private(set) var holder: Int?
    package init() {}

    func take(_ replica: Int) -> Bool {
        guard holder == nil || holder == replica else { return false }
        holder = replica
        return true
    }

    /// The holder's session ended (it resigned or crashed).
    package func release(_ replica: Int) { if holder == replica { holder = nil } }
}

/// A replica's election on a memory lock: each term runs on the same I/O (the shared store).
package struct MemoryElection: LeaderElection {
    package let lock: MemoryLeaderLock
    package let replica: Int
    package let io: PlaneIO
    package init(lock: MemoryLeaderLock, replica: Int, io: PlaneIO) {
        self.lock = lock
        self.replica = replica
        self.io = io
    }

    package func campaign() async throws -> SchedulerTerm? {
        guard await lock.take(replica) else { return nil }
        let (lock, replica) = (lock, replica)
        return SchedulerTerm(io: io, end: { await lock.release(replica) })
    }
}
