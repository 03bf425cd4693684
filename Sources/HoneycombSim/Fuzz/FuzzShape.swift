import HoneycombCore
import HoneycombStats

/// What one fuzz seed draws before it runs (swarm testing, as TigerBeetle's VOPR does): the
/// fleet, the load, the policy, and how often each fault strikes. Rates are per second of
/// virtual time; a rate of 0 turns that fault off for the seed.
public struct FuzzShape: Sendable, CustomStringConvertible {
    public var executors: Int
    public var slots: Int
    public var arrivalsPerSecond: Double
    public var meanRuntime: Double
    public var lease: TimeSpan?
    public var candidates: SchedulerPolicy.Candidates
    /// Store commits that fail, that land but lose their reply.
    public var commitFailures: Double
    public var lostCommitReplies: Double
    public var publishFailures: Double
    /// Dispatches delayed (up to 3 s), and delivered twice.
    public var delayedDeliveries: Double
    public var duplicateDeliveries: Double
    public var crashes: Double
    public var partitions: Double
    /// The active scheduler crashing, a standby taking over from the store.
    public var failovers: Double
    /// Commits that take up to two seconds of virtual time; heartbeats lost on the way;
    /// presence (Redis) flushed; the bundle store (S3) unavailable for a few seconds.
    public var slowCommits: Double
    public var lostHeartbeats: Double
    public var presenceFlushes: Double
    public var storageOutages: Double
    /// The share of started attempts that make an LLM call (0: none), the cloud's requests
    /// per minute and budget (micro-dollars), the shared tenant's budget, and whether
    /// executors serve a model of their own.
    public var llmShare: Double
    public var requestsPerMinute: Int?
    public var providerBudget: Int64?
    public var tenantBudget: Int64?
    public var localModels: Bool
    /// The share of arrivals a client sends with an idempotency key (a third of them as
    /// batches), retrying until answered; user cancellations per second.
    public var keyedShare: Double
    public var cancels: Double

    /// The shape for `seed`, from a stream of its own.
    public static func draw(seed: UInt64) -> FuzzShape {
        let r = RandomStream(runSeed: seed, purpose: "fuzz/shape")
        func sometimes(_ p: Double, _ rate: Double) -> Double { r.bernoulli(p) ? rate * r.flat(0.2, 1) : 0 }
        let candidates: [SchedulerPolicy.Candidates] = [.all, .sample(1), .adaptive, .powerOfTwo, .random]
        return FuzzShape(
            executors: 1 + r.integer(below: 5), slots: 1 + r.integer(below: 3), arrivalsPerSecond: r.flat(0.3, 6),
            meanRuntime: r.flat(0.1, 2), lease: r.bernoulli(0.5) ? .seconds(r.flat(1, 6)) : nil,
            candidates: candidates[r.integer(below: candidates.count)],
            commitFailures: sometimes(0.5, 0.3), lostCommitReplies: sometimes(0.5, 0.2), publishFailures: sometimes(0.5, 0.5),
            delayedDeliveries: sometimes(0.5, 2), duplicateDeliveries: sometimes(0.5, 1), crashes: sometimes(0.6, 0.08),
            partitions: sometimes(0.5, 0.08), failovers: sometimes(0.4, 0.05),
            slowCommits: sometimes(0.4, 0.5), lostHeartbeats: sometimes(0.4, 1), presenceFlushes: sometimes(0.4, 0.1),
            storageOutages: sometimes(0.3, 0.05),
            llmShare: r.bernoulli(0.7) ? r.flat(0.2, 1) : 0, requestsPerMinute: r.bernoulli(0.6) ? 2 + r.integer(below: 30) : nil,
            providerBudget: r.bernoulli(0.6) ? Int64(2_000 + r.integer(below: 40_000)) : nil,
            tenantBudget: r.bernoulli(0.4) ? Int64(2_000 + r.integer(below: 40_000)) : nil, localModels: r.bernoulli(0.6),
            keyedShare: r.bernoulli(0.6) ? r.flat(0.2, 1) : 0, cancels: sometimes(0.5, 0.5))
    }

    public var description: String {
        func f(_ x: Double) -> String { String(Int((x * 100).rounded())) }
        return "\(executors)×\(slots) slots, \(f(arrivalsPerSecond))/100 tasks/s, runtime \(f(meanRuntime)) cs, "
            + "lease \(lease.map { "\(Int($0.seconds))s" } ?? "none"), \(candidates); faults/100s: commit \(f(commitFailures)), "
            + "lost reply \(f(lostCommitReplies)), publish \(f(publishFailures)), delay \(f(delayedDeliveries)), "
            + "dup \(f(duplicateDeliveries)), crash \(f(crashes)), partition \(f(partitions)), failover \(f(failovers)), "
            + "slow \(f(slowCommits)), lost heartbeat \(f(lostHeartbeats)), presence flush \(f(presenceFlushes)), "
            + "S3 out \(f(storageOutages)); LLM \(f(llmShare))% of attempts, rpm \(requestsPerMinute.map(String.init) ?? "none"), "
            + "budget \(providerBudget.map(String.init) ?? "none") µ$, tenant \(tenantBudget.map(String.init) ?? "none") µ$, "
            + "local models \(localModels); keyed \(f(keyedShare))%, cancels \(f(cancels))"
    }
}
