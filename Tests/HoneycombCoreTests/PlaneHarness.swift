import HoneycombCore

/// Drives a `ControlPlane` by hand in tests: feed inputs at chosen instants, read effects.
struct PlaneHarness {
    var plane: ControlPlane
    var now = Instant.zero
    var effects = PlaneEffects()

    init(config: PlaneConfig = PlaneConfig(), agents: [AgentDefinition]) {
        plane = ControlPlane(config: config, agents: agents)
    }

    /// Feeds one input at `now` and returns the effects it produced.
    @discardableResult
    mutating func send(_ input: PlaneInput) -> [PlaneEffect] {
        effects.removeAll()
        plane.handle(input, at: now, effects: &effects)
        return effects.list
    }

    /// Feeds one input at `now` and returns the plane's answer (its effects are dropped).
    mutating func ask(_ input: PlaneInput) -> PlaneReply {
        effects.removeAll()
        return plane.handle(input, at: now, effects: &effects)
    }

    mutating func advance(_ span: TimeSpan) { now = now + span }

    mutating func register(_ id: Int, cpu: Int64 = 4000, memory: Int64 = 8 << 30, slots: Int64 = 4,
                           labels: [Label] = []) {
        send(.executorRegistered(ExecutorID(id), ExecutorSpec(labels: LabelSet(labels),
             capacity: Resources(cpuMillis: cpu, memoryBytes: memory, slots: slots))))
    }

    /// Submits a task and returns the executor it was dispatched to at once, if any.
    @discardableResult
    mutating func submit(_ task: Int, agent: Int = 0) -> ExecutorID? {
        dispatches(in: send(.taskSubmitted(TaskSpec(id: TaskID(task), agent: AgentID(agent))))).first?.executor
    }

    func dispatches(in effects: [PlaneEffect]) -> [(task: TaskID, attempt: UInt16, executor: ExecutorID)] {
        effects.compactMap { if case .dispatch(let t, let a, let e) = $0 { (t, a, e) } else { nil } }
    }

    func timers(in effects: [PlaneEffect]) -> [(PlaneTimer, Instant)] {
        effects.compactMap { if case .setTimer(let t, let at) = $0 { (t, at) } else { nil } }
    }

    func ended(in effects: [PlaneEffect]) -> [(TaskID, TaskState)] {
        effects.compactMap { if case .taskEnded(let t, let s) = $0 { (t, s) } else { nil } }
    }

    func state(_ task: Int) -> TaskState? { plane.tasks[TaskID(task)]?.state }
}

let smallAgent = AgentDefinition(name: "small", requires: Resources(cpuMillis: 1000, memoryBytes: 1 << 30, slots: 1))
