import HoneycombCore
import HoneycombStats

/// A scenario: the fleet, the agents, the load, the faults and the policy of one
/// simulation, as read from a YAML file (see `Scenarios/README.md`).
public struct Scenario: Sendable {
    public var name: String
    public var description: String
    public var seed: UInt64
    public var replications: Int
    public var duration: TimeSpan
    /// Observations before this are discarded.
    public var warmup: TimeSpan
    /// `warmup: auto`: a pilot replication chooses the warm-up (MSER-5) before the run.
    public var autoWarmup: Bool
    public var pools: [Pool]
    public var agents: [Agent]
    public var workloads: [Workload]
    public var events: [TimedEvent]
    public var policy: Policy
    public var network: Network
    /// How often the simulator samples why tasks wait and how fragmented free capacity is.
    public var sampleEvery: TimeSpan
    /// LLM calls and their serving, when any agent calls an LLM.
    public var llm: LLM?
    /// FNV-1a of the file's bytes, as hex.
    public var fingerprint: String

    /// A pool of identical executors.
    public struct Pool: Sendable {
        public var name: String
        public var count: Int
        public var labels: LabelSet
        public var resources: Resources
        public var churn: Churn?
        /// The tenant whose machines these are (`shared` when none is named).
        public var owner: TenantID
        /// Only the owner's tasks may run here.
        public var exclusive: Bool
        public var llm: PoolLLM?
    }

    /// How executors of a pool come and go. Times are in seconds.
    public struct Churn: Sendable {
        /// How long an executor stays up.
        public var uptime: Distribution
        /// How long it stays away before it registers again.
        public var downtime: Distribution
        /// The chance that going down is a crash (silent) rather than a graceful drain.
        public var crash: Double
    }

    /// An agent: what its tasks need, and (simulation only) how they behave.
    public struct Agent: Sendable {
        public var definition: AgentDefinition
        /// Run time of one attempt, in seconds.
        public var runtime: Distribution
        /// The chance that an attempt fails.
        public var failure: Double
        public var llm: AgentLLM?
    }

    /// A stream of tasks of one agent.
    public struct Workload: Sendable {
        /// Unique; events name the workload by it. Defaults to the agent's name.
        public var name: String
        /// Index into `agents`.
        public var agent: Int
        public var arrivals: ArrivalProcess
        public var tenant: TenantID
        public var priority: Int8
    }

    /// When tasks arrive. Rates are per second.
    public enum ArrivalProcess: Sendable {
        case poisson(rate: Double)
        case constant(rate: Double)
        /// `size` tasks every `every` seconds, spread evenly over `over` seconds.
        case bursts(every: Distribution, size: Int, over: Double)
        /// A Poisson process whose rate follows a day: mean·(1 + amplitude·cos(2π(t − peak)/period)).
        case diurnal(mean: Double, amplitude: Double, period: Double, peak: Double)

        /// The long-run mean rate, per second.
        public var meanRate: Double {
            switch self {
            case .poisson(let r), .constant(let r): r
            case .bursts(let every, let size, _): Double(size) / every.mean
            case .diurnal(let mean, _, _, _): mean
            }
        }
    }

    /// Something that happens at a set time.
    public struct TimedEvent: Sendable {
        public var at: TimeSpan
        public var action: Action
    }

    /// How many executors of a pool an event touches.
    public enum Share: Sendable, Equatable {
        case fraction(Double)
        case count(Int)
    }

    public enum Action: Sendable {
        /// New executors join the pool.
        case add(pool: Int, count: Int)
        /// Executors drain and leave for good.
        case remove(pool: Int, Share)
        /// Executors crash (and come back after their downtime, if the pool churns).
        case crash(pool: Int, Share)
        /// Executors lose contact with the control plane for a while, then regain it.
        case partition(pool: Int, Share, for: TimeSpan)
        /// A workload's rate is multiplied by `scale` (relative to its rate in the file).
        case scaleRate(workload: Int, scale: Double)
        /// A cloud provider fails every call for a while (telling callers when to come back, if it does).
        case outage(provider: Int, for: TimeSpan, retryAfter: TimeSpan?)
        /// A cloud provider's prices change (US dollars per million tokens).
        case price(provider: Int, input: Double, output: Double)
    }

    /// The tenants, by `TenantID` (the first is the built-in `shared`).
    public var tenants: [TenantPolicy] { policy.plane.tenants }

    /// The control plane's policy, and the executors' heartbeat period it sets.
    public struct Policy: Sendable {
        public var plane: PlaneConfig
        public var heartbeatInterval: TimeSpan
    }

    /// Message delays between plane and executors, in seconds.
    public struct Network: Sendable {
        /// Plane → executor (the NATS hop of a dispatch).
        public var dispatch: Distribution
        /// Executor → plane (task start and end reports).
        public var report: Distribution
    }
}

extension Scenario {
    /// The same shape with about `executors` executors: every pool's count and every
    /// workload's rate multiplied by one factor, so that the load per executor stays the same
    /// (`honeycomb bench scale`).
    public func scaled(toExecutors executors: Int) -> Scenario {
        let total = pools.reduce(0) { $0 + $1.count }
        guard total > 0 else { return self }
        let f = Double(executors) / Double(total)
        var s = self
        for p in s.pools.indices { s.pools[p].count = max(1, Int((Double(pools[p].count) * f).rounded())) }
        for w in s.workloads.indices { s.workloads[w].arrivals = workloads[w].arrivals.scaled(by: f) }
        return s
    }
}

extension Scenario.ArrivalProcess {
    /// The process at `f` times its mean rate (a burst process: bursts `f` times the size).
    public func scaled(by f: Double) -> Self {
        switch self {
        case .poisson(let r): .poisson(rate: r * f)
        case .constant(let r): .constant(rate: r * f)
        case .bursts(let every, let size, let over): .bursts(every: every, size: max(1, Int((Double(size) * f).rounded())), over: over)
        case .diurnal(let mean, let amplitude, let period, let peak):
            .diurnal(mean: mean * f, amplitude: amplitude, period: period, peak: peak)
        }
    }
}
