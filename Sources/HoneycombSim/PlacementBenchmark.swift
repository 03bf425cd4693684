import HoneycombCore
import HoneycombStats

/// The control plane's placement speed, measured without the simulator around it: a plane
/// with a heterogeneous fleet, fed inputs directly.
public enum PlacementBenchmark {
    /// What one measurement did.
    public struct Outcome: Sendable {
        public var decisions: Int
        public var queuedAtEnd: Int
        public var executors: Int
    }

    /// The fleet: 8,000 laptops (2 slots, arm64, two regions) and 2,000 servers (8 slots,
    /// amd64); four agents, two of which need particular labels. With `hostnames`, each
    /// executor also carries a label of its own that no agent reads.
    static func plane(executors: Int, policy: SchedulerPolicy, hostnames: Bool = false) -> ControlPlane {
        let agents = [
            AgentDefinition(name: "summarizer", requires: Resources(cpuMillis: 1000, memoryBytes: 1 << 30, slots: 1)),
            AgentDefinition(name: "indexer", requires: Resources(cpuMillis: 2000, memoryBytes: 2 << 30, slots: 1)),
            AgentDefinition(name: "builder", requires: Resources(cpuMillis: 4000, memoryBytes: 8 << 30, slots: 1),
                            selector: LabelSelector([("arch", .equals("amd64"))])),
            AgentDefinition(name: "eu-only", requires: Resources(cpuMillis: 1000, memoryBytes: 1 << 30, slots: 1),
                            selector: LabelSelector([("region", .oneOf(["eu"]))])),
        ]
        var plane = ControlPlane(config: PlaneConfig(scheduler: policy), agents: agents, random: RandomStream(seed: 9))
        var fx = PlaneEffects()
        for e in 0..<executors {
            let server = e % 5 == 4
            var labels = [Label("arch", server ? "amd64" : "arm64"), Label("region", e % 2 == 0 ? "eu" : "us")]
            if hostnames { labels.append(Label("host", "node-\(e)")) }
            let capacity = server ? Resources(cpuMillis: 32000, memoryBytes: 128 << 30, slots: 8)
                                  : Resources(cpuMillis: 8000, memoryBytes: 16 << 30, slots: 2)
            plane.handle(.executorRegistered(ExecutorID(e), ExecutorSpec(labels: LabelSet(labels), capacity: capacity)),
                         at: .zero, effects: &fx)
            fx.removeAll()
        }
        return plane
    }

    /// Feeds a plane submissions and completions, keeping the list of running attempts.
    struct Driver {
        var plane: ControlPlane
        var running: [(TaskID, UInt16, ExecutorID)] = []
        var nextTask = 0
        var effects = PlaneEffects()
        let stream: RandomStream

        /// Submits one task of the next agent in turn.
        mutating func submit() {
            plane.handle(.taskSubmitted(TaskSpec(id: TaskID(nextTask), agent: AgentID(nextTask % 4))), at: .zero,
                         effects: &effects)
            nextTask += 1
            collect()
        }

        /// Ends a running task chosen at random.
        mutating func finishOne() {
            let k = stream.integer(below: running.count)
            let (t, a, e) = running[k]
            running[k] = running[running.count - 1]
            running.removeLast()
            plane.handle(.taskSucceeded(t, attempt: a, on: e), at: .zero, effects: &effects)
            collect()
        }

        private mutating func collect() {
            for fx in effects.list { if case .dispatch(let t, let a, let e) = fx { running.append((t, a, e)) } }
            effects.removeAll()
        }
    }

    /// Saturated: the fleet full, `queued` tasks waiting; each step one task ends and the
    /// plane places the next waiting one (a decision), and one more task arrives to keep the
    /// queue long. `measure` times `steps` such decisions.
    public static func saturated(executors: Int, queued: Int, steps: Int, policy: SchedulerPolicy,
                                 measure: (() -> Void) -> Void) -> Outcome {
        var d = Driver(plane: plane(executors: executors, policy: policy), stream: RandomStream(seed: 5))
        while d.plane.queuedCount < queued { d.submit() }
        let before = d.plane.placementDecisions
        measure {
            for _ in 0..<steps {
                d.finishOne()
                d.submit()
            }
        }
        return Outcome(decisions: d.plane.placementDecisions - before, queuedAtEnd: d.plane.queuedCount,
                       executors: executors)
    }

    /// Half-loaded: nothing waits and thousands of executors have room, so every arrival is
    /// scored against many candidates; each step places one task and ends a random one.
    public static func halfLoaded(executors: Int, steps: Int, policy: SchedulerPolicy, hostnames: Bool = false,
                                  measure: (() -> Void) -> Void) -> Outcome {
        var d = Driver(plane: plane(executors: executors, policy: policy, hostnames: hostnames), stream: RandomStream(seed: 6))
        // About half the fleet's slots (32,000 in all).
        while d.running.count < executors * 16 / 10 / 2 { d.submit() }
        let before = d.plane.placementDecisions
        measure {
            for _ in 0..<steps {
                d.submit()
                d.finishOne()
            }
        }
        return Outcome(decisions: d.plane.placementDecisions - before, queuedAtEnd: d.plane.queuedCount,
                       executors: executors)
    }

    /// Preempting: the fleet full of priority-0 work; each step a priority-1 task arrives,
    /// which fits only by evicting (a preemption search), and then ends, which lets the
    /// evicted task run again (a placement). `measure` times `steps` such steps; the outcome
    /// counts the preemptions.
    public static func preempting(executors: Int, steps: Int, policy: SchedulerPolicy,
                                  measure: (() -> Void) -> Void) -> Outcome {
        var d = Driver(plane: plane(executors: executors, policy: policy), stream: RandomStream(seed: 7))
        while d.plane.queuedCount == 0 { d.submit() }
        // Then small tasks until even they wait: no executor has room for the urgent ones.
        let waiting = d.plane.queuedCount
        while d.plane.queuedCount == waiting {
            d.plane.handle(.taskSubmitted(TaskSpec(id: TaskID(d.nextTask), agent: AgentID(0))), at: .zero,
                           effects: &d.effects)
            d.nextTask += 1
            d.effects.removeAll()
        }
        let before = d.plane.counters.preempted
        measure {
            for _ in 0..<steps {
                let urgent = TaskID(d.nextTask)
                d.nextTask += 1
                d.plane.handle(.taskSubmitted(TaskSpec(id: urgent, agent: AgentID(0), priority: 1)), at: .zero,
                               effects: &d.effects)
                var placed: (UInt16, ExecutorID)?
                for fx in d.effects.list { if case .dispatch(urgent, let a, let e) = fx { placed = (a, e) } }
                d.effects.removeAll()
                guard let (attempt, e) = placed else { preconditionFailure("the urgent task found no room") }
                d.plane.handle(.taskSucceeded(urgent, attempt: attempt, on: e), at: .zero, effects: &d.effects)
                d.effects.removeAll()
            }
        }
        return Outcome(decisions: d.plane.counters.preempted - before, queuedAtEnd: d.plane.queuedCount,
                       executors: executors)
    }
}
