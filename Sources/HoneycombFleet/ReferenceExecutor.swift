import Foundation
import HoneycombAPI
import HoneycombDriver
import HoneycombLive
import Synchronization

/// How the reference executors are set up.
public struct FleetConfiguration: Sendable {
    public var controlPlane: URL
    public var natsURL: String
    /// An admin token, to mint one enrollment token per executor.
    public var adminToken: String
    public var count: Int
    /// Names are PREFIX-0, PREFIX-1, ...; a name enrolls once, so the default is fresh each run.
    public var namePrefix = "ref-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
    public var labels: [String: String] = [:]
    public var cpuMillis: Int64 = 4000
    public var memoryBytes: Int64 = 8 << 30
    public var slots: Int64 = 8
    public var heartbeatInterval: Double = 2
    public var seed: UInt64 = 1
    /// Acknowledgement deadline of dispatches, in seconds: unacknowledged, they come again.
    public var ackWait: Double = 30
    /// How the executors talk to the plane: the REST routes, or the gRPC executor service on
    /// `grpcPort` of the control plane's host. Bundles come over HTTP either way.
    public var executorProtocol: ExecutorProtocol = .rest
    public var grpcPort: Int?

    public init(controlPlane: URL, natsURL: String, adminToken: String, count: Int) {
        self.controlPlane = controlPlane
        self.natsURL = natsURL
        self.adminToken = adminToken
        self.count = count
    }
}

/// What the fleet saw, for tests and the live benchmark.
public struct FleetStats: Sendable {
    /// The longest heartbeat round trip, and the longest time between two heartbeats sent by
    /// one executor, in nanoseconds (what a loss of an executor that kept beating comes from).
    public var heartbeatLongestRoundTripNs: Int64 = 0
    public var heartbeatLongestGapNs: Int64 = 0
    public var runsReceived = 0
    /// Deliveries of an attempt already taken (JetStream redeliveries): acknowledged, not run.
    public var duplicatesSkipped = 0
    /// Dispatches the plane no longer stood behind when the executor asked to start.
    public var staleSkipped = 0
    public var started = 0
    public var succeeded = 0
    public var failed = 0
    public var stopped = 0
    /// Runs put back because every slot was busy (a run that overtook a stop).
    public var heldForSlot = 0
    public var bundlesRefused = 0
    /// Bundle downloads tried again because storage (or the service) was unavailable.
    public var bundleRetries = 0
    public var llmRoutes = 0
    public var errors: [String] = []
    /// Submission (accepted by the plane) to delivery at the executor, in nanoseconds.
    public var dispatchLatencies: [Int64] = []
    /// Task ids whose attempts this fleet started, in order (one entry per started attempt).
    public var startedTasks: [Int64] = []
    /// Wall-clock nanoseconds of each task's first start, and of its successful end.
    public var firstStart: [Int64: Int64] = [:]
    public var succeededAt: [Int64: Int64] = [:]
}

/// N reference executors in one process: each enrolls with a one-time token, registers its
/// capabilities (over REST or gRPC), heartbeats, takes tasks from its JetStream subject, asks the plane before
/// running one (so a duplicate delivery never runs twice), "runs" it for a time drawn from
/// the agent's profile, makes the LLM route calls the profile asks for, and reports.
public final class ExecutorFleet: Sendable {
    public let config: FleetConfiguration
    let admin: APIClient
    let nats: JetStreamConnection
    /// The gRPC connections, each shared by up to 64 executors (none over REST).
    let connections: [GRPCConnection]
    private let executors = Mutex<[ReferenceExecutor]>([])
    private let beats = Mutex<Task<Void, Never>?>(nil)
    let stats = Mutex(FleetStats())

    public init(config: FleetConfiguration) async throws {
        self.config = config
        admin = APIClient(base: config.controlPlane, token: config.adminToken)
        nats = try await JetStreamConnection.connect(url: config.natsURL, name: "honeycomb-executors")
        if config.executorProtocol == .grpc {
            guard let port = config.grpcPort, let host = config.controlPlane.host else {
                throw APIError(status: 0, detail: "gRPC executors need the service's gRPC port")
            }
            connections = try (0..<(config.count + GRPCConnection.executorsPerConnection - 1) / GRPCConnection.executorsPerConnection)
                .map { _ in try GRPCConnection(host: host, port: port) }
        } else {
            connections = []
        }
    }

    public var snapshot: FleetStats { stats.withLock { $0 } }
    public var ids: [Int64] { executors.withLock { $0.map(\.id) } }
    var executorsNow: [ReferenceExecutor] { executors.withLock { $0 } }

    /// Enrolls, registers and subscribes every executor, and starts their heartbeats.
    public func start() async throws {
        try await enroll()
        let task = Task { [weak self] in
            guard let self else { return }
            await self.heartbeat()
        }
        beats.withLock { $0 = task }
    }

    private func enroll() async throws {
        struct Minted: Decodable { var token: String }
        for k in 0..<config.count {
            let minted: Minted = try await admin.call("POST", "/v1/enrollment-tokens")
            let name = "\(config.namePrefix)-\(k)"
            let e: Enrollment
            let link: any ExecutorLink
            switch config.executorProtocol {
            case .rest:
                e = try await RESTLink.enroll(config.controlPlane, token: minted.token, name: name)
                link = RESTLink(client: APIClient(base: config.controlPlane, token: e.token), id: e.id)
            case .grpc:
                let connection = connections[k / GRPCConnection.executorsPerConnection]
                e = try await GRPCLink.enroll(connection, token: minted.token, name: name)
                link = GRPCLink(connection: connection, token: e.token)
            }
            let executor = ReferenceExecutor(id: e.id, stream: e.stream, subject: e.subject, link: link,
                                             client: APIClient(base: config.controlPlane, token: e.token), fleet: self,
                                             seed: config.seed &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15)
            try await executor.register()
            try await executor.subscribe()
            executors.withLock { $0.append(executor) }
        }
    }

    /// Heartbeats every executor until cancelled.
    private func heartbeat() async {
        while !Task.isCancelled {
            for e in executors.withLock({ $0 }) where !e.silenced { await e.heartbeat() }
            try? await Task.sleep(for: .seconds(config.heartbeatInterval))
        }
    }

    /// Silences executor `index` as if its machine died: no heartbeats, no deliveries, work dropped.
    public func kill(index: Int) {
        executors.withLock { $0[index] }.kill()
    }

    /// Executor `index` keeps heartbeating but takes no more deliveries (a stuck executor).
    public func deafen(index: Int) {
        executors.withLock { $0[index] }.deafen()
    }

    /// Stops heartbeats and deliveries.
    public func stop() {
        beats.withLock { $0?.cancel() }
        for e in executors.withLock({ $0 }) { e.kill() }
        for c in connections { c.close() }
    }

    func record(_ body: (inout FleetStats) -> Void) { stats.withLock { body(&$0) } }
}

/// One reference executor.
final class ReferenceExecutor: Sendable {
    let id: Int64
    let stream: String
    let subject: String
    /// The plane's executor API, in the fleet's protocol.
    let link: any ExecutorLink
    /// HTTP, for bundles.
    let client: APIClient
    unowned let fleet: ExecutorFleet
    /// Attempts taken, to drop redeliveries: the last 100,000 (a FIFO bounds it).
    private let seen = Mutex(SeenAttempts())
    private let running = Mutex<[String: Task<Void, Never>]>([:])
    /// Slots taken: by attempts running, and by those whose start is being asked.
    private let slotsInUse = Mutex<Int64>(0)
    private let stoppedEarly = Mutex<Set<String>>([])
    private let subscription = Mutex<JetStreamSubscription?>(nil)
    private let bundles = Mutex<Set<String>>([])
    /// The executor's own GSL stream: task run times and failures, drawn as the simulator draws them.
    private let random: SharedStream
    private let dead = Atomic<Bool>(false)
    private let lastHeartbeatSent = Atomic<Int64>(0)
    private let reports: ReportBatcher

    init(id: Int64, stream: String, subject: String, link: any ExecutorLink, client: APIClient, fleet: ExecutorFleet, seed: UInt64) {
        self.id = id
        self.stream = stream
        self.subject = subject
        self.link = link
        self.client = client
        self.fleet = fleet
        random = SharedStream(seed: seed)
        reports = ReportBatcher(link: link)
    }

    var silenced: Bool { dead.load(ordering: .relaxed) }

    func register() async throws {
        let c = fleet.config
        try await link.register(ExecutorSpecBody(labels: c.labels, cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes, slots: c.slots))
    }

    func subscribe() async throws {
        let sub = try await fleet.nats.subscribe(stream: stream, subject: subject, durable: "executor-\(id)", ackWait: fleet.config.ackWait) { [self] delivery in
            guard !silenced else { return }  // a dead machine acknowledges nothing
            guard let m = try? JSONDecoder().decode(ExecutorMessage.self, from: Data(delivery.payload)) else {
                delivery.term()
                return
            }
            Task { await self.handle(m, delivery) }
        }
        subscription.withLock { $0 = sub }
    }

    func heartbeat() async {
        let sent = WallClock.nanoseconds()
        let previous = lastHeartbeatSent.exchange(sent, ordering: .relaxed)
        defer {
            let roundTrip = WallClock.nanoseconds() - sent
            fleet.record {
                $0.heartbeatLongestRoundTripNs = max($0.heartbeatLongestRoundTripNs, roundTrip)
                if previous > 0 { $0.heartbeatLongestGapNs = max($0.heartbeatLongestGapNs, sent - previous) }
            }
        }
        do {
            if try await link.heartbeat() {
                // The plane gave this executor up: its work is gone; register afresh.
                for t in running.withLock({ $0.values }) { t.cancel() }
                try await register()
            }
        } catch {
            fleet.record { $0.errors.append("heartbeat \(id): \(error)") }
        }
    }

    func deafen() { subscription.withLock { $0?.close() } }

    func kill() {
        dead.store(true, ordering: .relaxed)
        subscription.withLock { $0?.close() }
        for t in running.withLock({ $0.values }) { t.cancel() }
        if let grpc = link as? GRPCLink { Task { await grpc.close() } }
    }

    private func handle(_ m: ExecutorMessage, _ delivery: JetStreamDelivery) async {
        let key = "\(m.task)-\(m.attempt)"
        switch m.kind {
        case .stop:
            delivery.ack()
            if let t = running.withLock({ $0.removeValue(forKey: key) }) {
                t.cancel()
                fleet.record { $0.stopped += 1 }
            } else {
                // Before its start was answered: it must not run when the answer comes.
                _ = stoppedEarly.withLock { $0.insert(key) }
            }
        case .warmUp:
            delivery.ack()
        case .run:
            let received = WallClock.nanoseconds()
            guard seen.withLock({ $0.insert(key) }) else {
                delivery.ack()
                fleet.record { $0.duplicatesSkipped += 1 }
                return
            }
            let slots = fleet.config.slots
            guard slotsInUse.withLock({ n in n < slots ? { n += 1; return true }() : false }) else {
                // Every slot busy: this run overtook the stop that frees its slot. An executor
                // never runs more than its slots: later, then.
                seen.withLock { $0.remove(key) }
                delivery.nak(delay: 1)
                fleet.record { $0.heldForSlot += 1 }
                return
            }
            fleet.record {
                $0.runsReceived += 1
                if let s = m.submittedAtNs, delivery.deliveryCount == 1 { $0.dispatchLatencies.append(received - s) }
            }
            let run: Bool
            do {
                run = try await reports.send(.init(task: m.task, attempt: m.attempt, kind: "start"))
            } catch {
                // Not known whether the plane heard: let JetStream bring it again.
                seen.withLock { $0.remove(key) }
                freeSlot()
                delivery.nak(delay: 1)
                fleet.record { $0.errors.append("start \(key): \(error)") }
                return
            }
            delivery.ack()
            guard run, !stoppedEarly.withLock({ $0.remove(key) != nil }) else {
                freeSlot()
                fleet.record { $0.staleSkipped += 1 }
                return
            }
            fleet.record {
                $0.started += 1
                $0.startedTasks.append(m.task)
                if $0.firstStart[m.task] == nil { $0.firstStart[m.task] = WallClock.nanoseconds() }
            }
            // Registered under the lock before it can finish, so its own removal never comes first.
            running.withLock { $0[key] = Task { await self.run(m, key) } }
        }
    }

    private func freeSlot() { slotsInUse.withLock { $0 -= 1 } }

    private func run(_ m: ExecutorMessage, _ key: String) async {
        defer {
            _ = running.withLock { $0.removeValue(forKey: key) }
            freeSlot()
        }
        let profile = AgentProfile(json: m.profile)
        var output: [String: String] = ["executor": String(id)]
        var ok = await verifyBundle(m)
        guard !Task.isCancelled else { return }  // stopped while storage was away
        if !ok { output["error"] = "the bundle was refused: it failed its digest or signature check" }
        if ok {
            let seconds = max(0, random.sample(profile.runtime))
            do { try await Task.sleep(for: .nanoseconds(Int64(seconds * 1e9))) } catch { return }  // stopped
            if let llm = profile.llm, let model = llm["model"] as? String {
                let body = LLMRouteBody(executor: id, model: model, promptTokens: (llm["promptTokens"] as? Int) ?? 500,
                                        maxCompletionTokens: (llm["maxCompletionTokens"] as? Int) ?? 200,
                                        latencyTargetMs: (llm["latencyTargetMs"] as? Int) ?? 2000)
                if let d = try? await link.route(body) {
                    fleet.record { $0.llmRoutes += 1 }
                    output["llm"] = d.target
                    // The call "happens" (no model runs here); its end releases what the route reserved.
                    if let call = d.call {
                        try? await link.complete(call: call, LLMCompletion(succeeded: true, inputTokens: body.promptTokens,
                                                                           outputTokens: min(body.maxCompletionTokens, 100)))
                    }
                }
            }
            if random.uniform() < profile.failure { ok = false; output["error"] = "the agent failed (drawn)" }
        }
        guard !Task.isCancelled, !silenced else { return }
        // A result is work done: while the plane is unreachable or restarting, keep offering it
        // (for up to two minutes) rather than lose it.
        for attempt in 0..<240 {
            do {
                _ = try await reports.send(.init(task: m.task, attempt: m.attempt, kind: "result", succeeded: ok,
                                                 output: .object(output.mapValues { .string($0) })))
                fleet.record {
                    if ok { $0.succeeded += 1; $0.succeededAt[m.task] = WallClock.nanoseconds() } else { $0.failed += 1 }
                }
                return
            } catch let e as APIError where e.status == 0 || e.status == 503 {
                if attempt == 0 { fleet.record { $0.errors.append("result \(key): \(e); retrying") } }
                do { try await Task.sleep(for: .milliseconds(500)) } catch { return }
            } catch {
                fleet.record { $0.errors.append("result \(key): \(error)") }
                return
            }
        }
    }

    /// Fetches the bundle once per version and checks its digest and signature here too.
    /// Storage being away is not the bundle's fault: an answer that says so (503, or no
    /// answer at all) is tried again, with backoff, for as long as the attempt is wanted
    /// (until it is stopped). Only a bundle that fails its check, or that the service itself
    /// refuses, fails the attempt.
    private func verifyBundle(_ m: ExecutorMessage) async -> Bool {
        guard let path = m.bundlePath else { return false }
        if bundles.withLock({ $0.contains(path) }) { return true }
        var backoff = 0.25
        while true {
            let answer = try? await client.send("GET", path)
            switch answer?.0 {
            case 200?:
                guard BundleCheck.failure(of: Array(answer!.1), publisherKey: m.publisherKey, signature: m.bundleSignature,
                                          sha256: m.bundleSHA256 ?? "") == nil else {
                    fleet.record { $0.bundlesRefused += 1 }
                    return false
                }
                _ = bundles.withLock { $0.insert(path) }
                return true
            case nil, 503?, 504?:
                // Unavailable (storage, or the service itself): later, unless stopped meanwhile.
                fleet.record { $0.bundleRetries += 1 }
                do { try await Task.sleep(for: .seconds(backoff)) } catch { return false }
                if silenced { return false }
                backoff = min(backoff * 2, 5)
            default:
                let status = answer?.0 ?? 0
                fleet.record {
                    $0.bundlesRefused += 1
                    $0.errors.append("bundle \(path): refused with status \(status)")
                }
                return false
            }
        }
    }
}

/// A set of recent attempt keys with a bound: the oldest are forgotten first.
struct SeenAttempts: Sendable {
    private var keys = Set<String>()
    private var order: [String] = []
    private var head = 0
    static let capacity = 100_000

    /// False when `key` was there already.
    mutating func insert(_ key: String) -> Bool {
        guard keys.insert(key).inserted else { return false }
        order.append(key)
        if order.count - head > Self.capacity {
            keys.remove(order[head])
            head += 1
            if head > Self.capacity { order.removeFirst(head); head = 0 }
        }
        return true
    }

    mutating func remove(_ key: String) { keys.remove(key) }
}
/// Sends an executor's start and result reports in batches: while one request is on its way,
/// the next reports gather, and go together in the following one.
actor ReportBatcher {
    let link: any ExecutorLink
    private var pending: [(ReportsRequest.Report, CheckedContinuation<Bool, Error>)] = []
    private var flushing = false

    init(link: any ExecutorLink) {
        self.link = link
    }

    /// True when the plane took the report (for a start: run it).
    func send(_ report: ReportsRequest.Report) async throws -> Bool {
        try await withCheckedThrowingContinuation { k in
            pending.append((report, k))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(500))
            pending.removeFirst(batch.count)
            do {
                let accepted = try await link.report(ReportsRequest(reports: batch.map(\.0)))
                for (k, (_, waiter)) in batch.enumerated() { waiter.resume(returning: k < accepted.count && accepted[k]) }
            } catch {
                for (_, waiter) in batch { waiter.resume(throwing: error) }
            }
        }
        flushing = false
    }
}

