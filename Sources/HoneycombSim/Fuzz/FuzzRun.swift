import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombStats
import Synchronization

/// An invariant the fuzzer found broken: which, when, and what led to it.
public struct FuzzViolation: Error, Sendable, CustomStringConvertible {
    public var seed: UInt64
    public var invariant: String
    public var detail: String
    public var at: Instant
    /// The last events before it, oldest first.
    public var recent: [String]

    public var description: String {
        "seed \(seed): \(invariant) at t=\(FuzzRun.stamp(at)): \(detail)\nlast events:\n"
            + recent.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// How far a running seed has got, and its last events: shared with whoever watches it from
/// outside (a watchdog that reports a seed making no progress, since a command never answered
/// would otherwise stall its campaign silently).
public final class FuzzTrail: Sendable {
    private struct State {
        var steps = 0
        var now = Instant.zero
        var recent: [String] = []
    }
    private let state = Mutex(State())
    public init() {}

    /// Steps run so far.
    public var steps: Int { state.withLock { $0.steps } }
    /// The last 40 events, oldest first.
    public var recent: [String] { state.withLock { $0.recent } }
    public var now: Instant { state.withLock { $0.now } }

    func stepped(at now: Instant) { state.withLock { $0.steps += 1; $0.now = now } }
    func append(_ line: String) {
        state.withLock {
            $0.recent.append(line)
            if $0.recent.count > 40 { $0.recent.removeFirst($0.recent.count - 40) }
        }
    }
}

/// What one seed did.
public struct FuzzOutcome: Sendable, Equatable {
    public var seed: UInt64
    /// A hash of every event, in order: the same seed must give the same hash.
    public var eventHash: UInt64
    public var events: Int
    public var tasks: Int
    public var faults: Int
    /// Keyed submissions answered only after a retry, and cancellations the plane took.
    public var keyedRetries: Int
    public var cancels: Int
}

/// One seed of deterministic simulation testing: the real core inside the real live driver
/// (`LivePlane`), on in-memory I/O with faults and a virtual clock, with executors modelled
/// around it. Everything is driven from one task, one command at a time, so a seed always
/// replays the same way; invariants are checked after every step.
final class FuzzRun {
    static let step = TimeSpan.milliseconds(100)
    /// How long faults strike; then they heal and every task must end within `liveness` plus
    /// the time its backlog needs.
    static let faultyFor = TimeSpan.seconds(60)
    static let liveness = TimeSpan.seconds(60)
    static let agentVersion: Int64 = 1
    /// The states a task never leaves, as the store spells them.
    static let ended: Set<String> = ["succeeded", "failed", "lost", "cancelled"]

    let seed: UInt64
    let shape: FuzzShape
    let config: PlaneConfig
    let store = MemoryPlaneStore()
    let bus = MemoryDispatchBus()
    let presence = MemoryPresence()
    let clock = ManualClock(Instant(nanoseconds: 1_000_000_000_000))
    let start: Instant
    var plane: LivePlane
    var loop: Task<Void, Error>?
    var replicas: UInt64 = 0

    // Streams, one per purpose, so that turning one fault off moves no other draw.
    let faults, arrivals, runtimes, network, llm, clients: RandomStream
    var steps = 0
    /// Set once the faults have healed.
    var healed = false
    /// While the bundle store is away, executors cannot fetch what they are sent.
    var storageDownUntil = Instant.zero

    struct Executor {
        var id: Int64
        enum Life { case up, crashed(until: Instant), partitioned(until: Instant) }
        var life = Life.up
        var registered = false
        var nextHeartbeat = Instant.zero
        var inbox: [(at: Instant, message: ExecutorMessage)] = []
        var running: [(task: Int64, attempt: Int, ends: Instant)] = []
        /// Attempts this life has taken (a repeated delivery is dropped, as executors must).
        var taken: Set<String> = []
        /// Reports not yet taken by the plane (partitioned, or the plane was down).
        var unsent: [ReportItem] = []
        /// LLM calls it was routed and has yet to report ended.
        var calls: [OpenCall] = []
    }
    struct OpenCall {
        var id: Int64
        var ends: Instant
        var inputTokens, outputTokens: Int
        var fails: Bool
    }
    /// Cloud calls checked against the rate limit so far (the store's, in id order).
    var rateChecked: Int64 = 0
    var executors: [Executor]
    var busCursor = 0
    var historyCursor = 0
    var lastHistory: [Int64: (state: String, attempt: Int)] = [:]
    /// Tasks whose submission a client saw accepted, in that order.
    var acknowledged: [Int64] = []
    var acknowledgedSet: Set<Int64> = []
    /// Acknowledged tasks checked to be in the store so far (rows are never deleted).
    var ackChecked = 0
    /// Keyed submissions not yet answered (their client retries them every step), the task
    /// each per-task key was answered with.
    var pendingKeyed: [KeyedRequest] = []
    var keyAnswers: [String: Int64] = [:]
    var keyedCount = 0
    var keyedRetries = 0
    var cancels = 0
    var faultCount = 0

    // The event log: every line hashed, the last few kept for a violation's report.
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    var eventCount = 0
    /// The last events and how many steps ran, readable from outside the run (a watchdog).
    let trail: FuzzTrail
    /// Sees every event as it happens (`fuzz --log`).
    var everyEvent: (@Sendable (String) -> Void)?

    init(seed: UInt64, plant: PlaneConfig.PlantedBug? = nil, trail: FuzzTrail = FuzzTrail()) {
        self.seed = seed
        self.trail = trail
        shape = FuzzShape.draw(seed: seed)
        var c = PlaneConfig(heartbeatTimeout: .seconds(3), retryBackoff: .milliseconds(200), retryBackoffMax: .seconds(2),
                            lease: shape.lease, startTimeout: .seconds(5), scheduler: SchedulerPolicy(candidates: shape.candidates))
        c.plantedBug = plant
        c.llm = LLMRouterConfig(
            models: [LLMModel(name: "small"), LLMModel(name: "big", tier: 2, fallback: ModelID(0))],
            providers: [CloudProvider(name: "cloud", models: [ModelID(0), ModelID(1)], inputPricePerMillion: 1,
                                      outputPricePerMillion: 4, requestsPerMinute: shape.requestsPerMinute,
                                      budgetMicroUSD: shape.providerBudget)],
            tenantBudgetsMicroUSD: [shape.tenantBudget], callTimeout: .seconds(20))
        config = c
        start = clock.now()
        faults = RandomStream(runSeed: seed, purpose: "fuzz/faults")
        arrivals = RandomStream(runSeed: seed, purpose: "fuzz/arrivals")
        runtimes = RandomStream(runSeed: seed, purpose: "fuzz/runtimes")
        network = RandomStream(runSeed: seed, purpose: "fuzz/network")
        llm = RandomStream(runSeed: seed, purpose: "fuzz/llm")
        clients = RandomStream(runSeed: seed, purpose: "fuzz/clients")
        executors = (0..<shape.executors).map { Executor(id: Int64($0 + 1)) }
        plane = LivePlane(config: c, seed: seed, io: PlaneIO(store: store, bus: bus, presence: presence, clock: clock))
    }

    static func stamp(_ t: Instant) -> String {
        let ms = (t.nanoseconds - 1_000_000_000_000) / 1_000_000
        return "\(ms / 1000).\(String(ms % 1000 + 1000).dropFirst())"
    }

    func log(_ line: String) {
        let text = "t=\(Self.stamp(clock.now())) \(line)"
        for b in text.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0x0a) &* 0x100_0000_01b3
        eventCount += 1
        everyEvent?(text)
        trail.append(text)
    }

    func violation(_ invariant: String, _ detail: String) -> FuzzViolation {
        log("VIOLATION \(invariant): \(detail)")
        return FuzzViolation(seed: seed, invariant: invariant, detail: detail, at: clock.now(), recent: trail.recent)
    }

    /// Runs the seed to its end; throws the first violation.
    func run() async throws -> FuzzOutcome {
        await store.add(agent: StoredAgent(id: Self.agentVersion, name: "fuzz", version: "1", cpuMillis: 100, memoryBytes: 1 << 20,
                                           labels: [:], maxAttempts: 6, bundleKey: "k", bundleSHA256: "00", signature: "00",
                                           publisherKey: "00", profile: "{}"))
        await store.add(user: 1, name: "fuzzer")
        await store.slowCommits(on: clock)
        for e in executors {
            await store.put(executor: StoredExecutor(id: e.id, name: "e\(e.id)", state: "enrolled", spec: spec(of: e.id)))
        }
        log("shape \(shape)")
        _ = await recover()
        let healAt = start + Self.faultyFor
        while clock.now() < healAt {
            try await step(faulty: true)
        }
        log("faults heal")
        for k in executors.indices { executors[k].life = .up }
        storageDownUntil = .zero
        healed = true
        // The bound: a minute for detection, leases, deadlines and backoff, plus three times
        // the backlog's work spread over every slot (a seed may draw more load than its fleet).
        let backlog = try await unfinished().count + pendingKeyed.reduce(0) { $0 + $1.list.count }
        let bound = Self.liveness + .seconds(3 * Double(backlog) * shape.meanRuntime / Double(shape.executors * shape.slots))
        let deadline = clock.now() + bound
        log("liveness: \(backlog) tasks to end within \(Int(bound.seconds)) s")
        while try await !allEnded() {
            guard clock.now() < deadline else {
                if let r = pendingKeyed.first {
                    throw violation("liveness", "submission \(r.key) not answered \(Int(bound.seconds)) s after the faults healed")
                }
                throw violation("liveness", "tasks not ended \(Int(bound.seconds)) s after the faults healed: "
                                + (try await unfinished().prefix(8).map(String.init).joined(separator: ", ")))
            }
            try await step(faulty: false)
        }
        await plane.stop()
        _ = await loop?.result
        return FuzzOutcome(seed: seed, eventHash: hash, events: eventCount, tasks: acknowledged.count, faults: faultCount,
                           keyedRetries: keyedRetries, cancels: cancels)
    }

    func chance(_ ratePerSecond: Double) -> Bool { faults.bernoulli(ratePerSecond * Self.step.seconds) }

    // MARK: One step of virtual time

    func step(faulty: Bool) async throws {
        clock.advance(Self.step)
        steps += 1
        trail.stepped(at: clock.now())
        if faulty { await injectFaults() }
        if loop == nil, !(await recover()) { return }
        if loop != nil { try await retryKeyed() }
        if faulty { try await submitArrivals() }
        if faulty, chance(shape.cancels) { try await cancelOne() }
        await deliver(faulty: faulty)
        for k in executors.indices { try await act(k) }
        if loop != nil {
            await plane.tick()
            await plane.settled()
            await plane.publishOutbox()
            await plane.flushPresence()
            // As the scheduler's replica refills presence every ten seconds.
            if steps % 100 == 0 { try await refillPresence() }
            await noticeStoppedLoop()
        }
        if loop != nil { try await checkStoreAgrees() }
        try await checkLLMLedger()
        try await checkHistory()
    }

    func injectFaults() async {
        if chance(shape.commitFailures) { await store.inject(.fail); faultCount += 1; log("fault: next commit fails") }
        if chance(shape.lostCommitReplies) { await store.inject(.loseReply); faultCount += 1; log("fault: next commit loses its reply") }
        if chance(shape.publishFailures) { await bus.fail(); faultCount += 1; log("fault: next publish fails") }
        if chance(shape.slowCommits) {
            let span = TimeSpan.seconds(faults.flat(0.1, 2))
            await store.inject(.slow(span))
            faultCount += 1
            log("fault: next commit takes \(Int(span.seconds * 1000)) ms")
        }
        if chance(shape.presenceFlushes) { await presence.flush(); faultCount += 1; log("fault: presence flushed") }
        if chance(shape.storageOutages), storageDownUntil <= clock.now() {
            storageDownUntil = clock.now() + .seconds(faults.flat(1, 8))
            faultCount += 1
            log("fault: the bundle store is away until \(Self.stamp(storageDownUntil))")
        }
        if chance(shape.failovers), loop != nil {
            faultCount += 1
            log("fault: the active scheduler dies; a standby takes over")
            await plane.stop()
            _ = await loop?.result
            loop = nil
            replicas += 1
            plane = LivePlane(config: config, seed: seed &+ replicas,
                              io: PlaneIO(store: store, bus: bus, presence: presence, clock: clock))
        }
        for k in executors.indices {
            guard case .up = executors[k].life else { continue }
            if chance(shape.crashes) {
                faultCount += 1
                let until = clock.now() + .seconds(faults.flat(0.5, 8))
                log("fault: executor \(executors[k].id) crashes until \(Self.stamp(until))")
                executors[k] = Executor(id: executors[k].id, life: .crashed(until: until))
            } else if chance(shape.partitions) {
                faultCount += 1
                let until = clock.now() + .seconds(faults.flat(0.5, 10))
                log("fault: executor \(executors[k].id) is cut off until \(Self.stamp(until))")
                executors[k].life = .partitioned(until: until)
            }
        }
    }

    /// Brings a stopped plane back: rebuilt from the store, its loop running again.
    func recover() async -> Bool {
        do {
            let (e, t) = try await plane.rebuild()
            log("rebuilt: \(e) executors, \(t) unfinished tasks")
        } catch {
            log("rebuild failed: \(error)")
            return false
        }
        let plane = self.plane
        loop = Task { try await plane.run() }
        return true
    }

    /// After a write failed, the loop has stopped: wait for it, and rebuild next step.
    func noticeStoppedLoop() async {
        guard let l = loop, await plane.hasStopped else { return }
        _ = await l.result
        loop = nil
        log("the batch loop stopped after a failed write")
    }

    /// Calls the plane; a refusal (its store failed) stops the loop, to be rebuilt.
    func call<T>(_ what: String, _ body: () async throws -> T) async -> T? {
        guard loop != nil else { return nil }
        do {
            return try await body()
        } catch {
            log("\(what): refused: \(error)")
            await noticeStoppedLoop()
            return nil
        }
    }

    func submitArrivals() async throws {
        var n = 0
        var p = exp(-shape.arrivalsPerSecond * Self.step.seconds), u = arrivals.uniform(), cumulative = p
        while u > cumulative && n < 50 { n += 1; p *= shape.arrivalsPerSecond * Self.step.seconds / Double(n); cumulative += p }
        for _ in 0..<n {
            let s = Submission(agentVersion: Self.agentVersion, userID: 1, tenant: .shared, priority: 0, input: "{}",
                               latencyTargetMs: nil, requestHash: "-")
            if clients.bernoulli(shape.keyedShare) {
                try await submitKeyed(s)
                continue
            }
            guard let t = await call("submit", { try await plane.submit(s) }) else { continue }
            acknowledge(t.id)
            log("task \(t.id) accepted")
        }
    }

    /// Moves what the bus delivered into the executors' inboxes, some late and some twice.
    func deliver(faulty: Bool) async {
        let all = await bus.delivered
        while busCursor < all.count {
            let m = all[busCursor]
            busCursor += 1
            guard let k = executors.firstIndex(where: { $0.id == m.executor }) else { continue }
            let late = faulty && network.bernoulli(min(1, shape.delayedDeliveries * 0.1))
            let at = clock.now() + (late ? .seconds(network.flat(0, 3)) : .zero)
            executors[k].inbox.append((at, m))
            if faulty && network.bernoulli(min(1, shape.duplicateDeliveries * 0.1)) {
                executors[k].inbox.append((at + .seconds(network.flat(0, 2)), m))
            }
        }
    }
}
