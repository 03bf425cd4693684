import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombLive
import HoneycombSim
import HoneycombStats

/// A scenario run against a live control plane: its agents published (run-time distributions
/// as profiles), its pools as reference executors, its workloads submitted in real time, by
/// users named after the scenario's tenants. The figures come out in the simulator's terms, so
/// the live service can be checked against the simulation of the same scenario.
///
/// `speed` runs it faster (arrival rates up, run times down, both by the factor, so the load
/// stays the same); `scale` shrinks the fleet and the arrivals together. Not carried over:
/// churn and timed events (the fleet stays up), partitions, network delays (they are real),
/// selectors other than exact labels, affinity, and LLM calls. The arrivals are the
/// simulator's own draws (replication 0 of the scenario's seed), every shape of them.
public struct LiveScenarioRun: Sendable {
    public var scenario: Scenario
    public var controlPlane: URL
    public var natsURL: String
    public var adminToken: String
    public var speed: Double = 1
    public var scale: Double = 1
    /// Real seconds of arrivals; default the scenario's duration divided by `speed`.
    public var duration: Double?

    public init(scenario: Scenario, controlPlane: URL, natsURL: String, adminToken: String) {
        self.scenario = scenario
        self.controlPlane = controlPlane
        self.natsURL = natsURL
        self.adminToken = adminToken
    }

    public struct Figures: Sendable, CustomStringConvertible {
        public var submitted = 0
        public var refused = 0
        /// Tasks (not attempts) that ended succeeded, and failed or lost; the rest were unfinished
        /// at the cut-off and are left out of the figures below.
        public var completed = 0
        public var failed = 0
        public var unfinished = 0
        /// In scenario seconds (real seconds × speed).
        public var waits: [Double] = []
        public var turnarounds: [Double] = []
        public var notes: [String] = []
        public var simulated: (wait: MeanInterval?, turnaround: MeanInterval?)?

        public var description: String {
            func f(_ x: Double) -> String { String(format: "%.3f s", x) }
            func i(_ m: MeanInterval?) -> String {
                guard let m else { return "n/a" }
                return String(format: "%.3f s ± %.3f", m.mean, m.halfWidth)
            }
            var lines = ["submitted \(submitted) tasks (\(refused) refused); \(completed) succeeded, \(failed) failed or lost, "
                         + "\(unfinished) unfinished at the cut-off (left out below)",
                         "| metric (scenario seconds) | live | simulated (95 % interval) |", "|---|---|---|",
                         "| task.wait.mean | \(f(Statistics.mean(waits))) | \(i(simulated?.wait)) |",
                         "| task.wait.p99 | \(f(Statistics.quantile(sorted: waits.sorted(), 0.99))) | |",
                         "| task.turnaround.mean | \(f(Statistics.mean(turnarounds))) | \(i(simulated?.turnaround)) |"]
            lines += notes.map { "note: \($0)" }
            return lines.joined(separator: "\n")
        }
    }

    public func run(log: @Sendable (String) -> Void = { print($0) }) async throws -> Figures {
        var figures = Figures()
        let admin = APIClient(base: controlPlane, token: adminToken)
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let publisher = try Ed25519PrivateKey()
        let bundle: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
        var agentNames: [String] = []
        for a in scenario.agents {
            let d = a.definition
            var labels: [String: String] = [:]
            for (key, condition) in d.selector.conditions {
                if case .equals(let v) = condition { labels[key] = v } else {
                    figures.notes.append("agent \(d.name): selector \(key) \(condition) is not carried live; dropped")
                }
            }
            let name = "\(d.name)-\(runID)"
            let profile: JSONValue = .object(["runtime": a.runtime.faster(speed).json, "failure": .number(a.failure)])
            let _: [String: String] = try await admin.call("POST", "/v1/agents/\(name)/versions", json: PublishRequest(
                version: d.version, description: "scenario \(scenario.name)", cpuMillis: d.requires.cpuMillis,
                memoryBytes: d.requires.memoryBytes, labels: labels, maxAttempts: d.maxAttempts, profile: profile,
                bundle: Data(bundle).base64EncodedString(), signature: Encoding.hex(try publisher.sign(bundle)),
                publisherKey: Encoding.hex(publisher.publicKey.raw)))
            agentNames.append(name)
        }
        if scenario.pools.contains(where: { $0.churn != nil }) { figures.notes.append("pool churn is not carried live: executors stay up") }
        if !scenario.events.isEmpty { figures.notes.append("timed events are not carried live") }

        var fleets: [ExecutorFleet] = []
        for (k, pool) in scenario.pools.enumerated() {
            var c = FleetConfiguration(controlPlane: controlPlane, natsURL: natsURL, adminToken: adminToken,
                                       count: max(1, Int((Double(pool.count) * scale).rounded())))
            c.namePrefix = "\(pool.name)-\(runID)"
            c.labels = Dictionary(pool.labels.labels.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 })
            c.cpuMillis = pool.resources.cpuMillis
            c.memoryBytes = pool.resources.memoryBytes
            c.slots = pool.resources.slots
            c.heartbeatInterval = 1
            c.seed = scenario.seed &+ UInt64(k) &* 1_000_003
            let fleet = try await ExecutorFleet(config: c)
            try await fleet.start()
            fleets.append(fleet)
        }
        let seconds = duration ?? scenario.duration.seconds / speed
        log("\(fleets.reduce(0) { $0 + $1.config.count }) executors in \(fleets.count) pools; "
            + "\(scenario.workloads.count) workloads for \(String(format: "%.1f", seconds)) s at speed \(speed)")

        // One submitter per workload.
        let tenants = scenario.tenants.map(\.name)
        let start = WallClock.nanoseconds()
        let submissions = await withTaskGroup(of: ([(Int64, Int64)], Int).self) { group in
            for (w, workload) in scenario.workloads.enumerated() {
                let user = workload.tenant.index < tenants.count ? tenants[workload.tenant.index] : "shared"
                let client = admin.with(token: adminTokenFor(user))
                let request = TaskRequest(agent: agentNames[workload.agent], priority: Int(workload.priority))
                // Drawn in scenario time, as the simulator draws them, then played `speed` times faster.
                let times = workload.arrivals.arrivalTimes(until: seconds * speed, scale: scale,
                                                           stream: scenario.arrivalStream(workload: w, seed: scenario.seed))
                    .map { $0 / speed }
                group.addTask {
                    var accepted: [(Int64, Int64)] = [], refused = 0
                    for t in times {
                        let wait = start + Int64(t * 1e9) - WallClock.nanoseconds()
                        if wait > 0 { try? await Task.sleep(for: .nanoseconds(wait)) }
                        struct Submitted: Decodable { var id: Int64 }
                        let at = WallClock.nanoseconds()
                        if let s: Submitted = try? await client.call("POST", "/v1/tasks", json: request) {
                            accepted.append((s.id, at))
                        } else {
                            refused += 1
                        }
                    }
                    return (accepted, refused)
                }
            }
            var all: ([(Int64, Int64)], Int) = ([], 0)
            for await r in group { all.0 += r.0; all.1 += r.1 }
            return all
        }
        figures.submitted = submissions.0.count + submissions.1
        figures.refused = submissions.1
        // Let what was accepted end (at most a minute more, or four times the run): a task has
        // ended when an executor's result succeeded it, or the plane ended it failed or lost.
        let accepted = Set(submissions.0.map(\.0))
        let deadline = WallClock.nanoseconds() + Int64(min(60, 4 * seconds) * 1e9)
        var succeededAt: [Int64: Int64] = [:], ended = Set<Int64>()
        while true {
            succeededAt = fleets.reduce(into: [:]) { $0.merge($1.snapshot.succeededAt) { max($0, $1) } }
            ended = try await endedBadly(accepted, admin)
            if succeededAt.count + ended.count >= accepted.count || WallClock.nanoseconds() >= deadline { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        var firstStart: [Int64: Int64] = [:]
        for f in fleets {
            firstStart.merge(f.snapshot.firstStart) { min($0, $1) }
            f.stop()
        }
        figures.completed = accepted.filter { succeededAt[$0] != nil }.count
        figures.failed = ended.count
        figures.unfinished = accepted.count - figures.completed - figures.failed
        if speed != 1 {
            figures.notes.append("at speed \(speed) the real overheads (HTTP, the store, JetStream) count \(speed) times; "
                                 + "the plane's own timeouts and backoffs are not sped up")
        }
        for (id, submitted) in submissions.0 where succeededAt[id] != nil || ended.contains(id) {
            if let s = firstStart[id] { figures.waits.append(Double(s - submitted) / 1e9 * speed) }
            if let e = succeededAt[id] { figures.turnarounds.append(Double(e - submitted) / 1e9 * speed) }
        }
        return figures
    }

    /// Which of `ids` the plane ended failed, lost or cancelled (the admin's task list, by state).
    private func endedBadly(_ ids: Set<Int64>, _ admin: APIClient) async throws -> Set<Int64> {
        struct Page: Decodable { var tasks: [T]; var next: Int64?; struct T: Decodable { var id: Int64 } }
        var out = Set<Int64>()
        for state in ["failed", "lost", "cancelled"] {
            var after: Int64 = 0
            while true {
                let page: Page = try await admin.call("GET", "/v1/tasks?state=\(state)&limit=1000&after=\(after)")
                out.formUnion(page.tasks.map(\.id).filter(ids.contains))
                guard let next = page.next else { break }
                after = next
            }
        }
        return out
    }

    /// A user token for the tenant's name, made with the admin's rights: the service issues it.
    private func adminTokenFor(_ user: String) -> String { userTokens[user] ?? adminToken }

    /// Tokens of the scenario's tenants, minted before the run (`prepareUsers`).
    public var userTokens: [String: String] = [:]

    /// Asks the service for a token of each tenant, so tasks are submitted as their tenants.
    public mutating func prepareUsers() async throws {
        let admin = APIClient(base: controlPlane, token: adminToken)
        struct Minted: Decodable { var token: String }
        for name in Set(scenario.tenants.map(\.name) + ["shared"]).sorted() {
            let m: Minted = try await admin.call("POST", "/v1/users", json: UserRequest(name: name, role: .user, ttlSeconds: 86400))
            userTokens[name] = m.token
        }
    }
}

extension Scenario {
    /// The same scenario with `fraction` of each pool (at least one executor) and of each
    /// workload's arrivals.
    public mutating func scale(by fraction: Double) {
        for k in pools.indices { pools[k].count = max(1, Int((Double(pools[k].count) * fraction).rounded())) }
        for k in workloads.indices {
            workloads[k].arrivals = switch workloads[k].arrivals {
            case .poisson(let r): .poisson(rate: r * fraction)
            case .constant(let r): .constant(rate: r * fraction)
            case .bursts(let every, let size, let over): .bursts(every: every, size: max(1, Int((Double(size) * fraction).rounded())), over: over)
            case .diurnal(let mean, let amplitude, let period, let peak): .diurnal(mean: mean * fraction, amplitude: amplitude, period: period, peak: peak)
            }
        }
    }
}
