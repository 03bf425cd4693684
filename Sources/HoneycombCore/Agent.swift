/// What the control plane knows of an agent version: who it is and what a task of it needs.
///
/// How long a task runs is not the plane's business (the executor finds out by running it);
/// the simulator keeps runtime distributions on its side of the boundary.
public struct AgentDefinition: Hashable, Sendable {
    public var name: String
    public var version: String
    /// Resources one task of this agent reserves on an executor (including one slot).
    public var requires: Resources
    /// What an executor's labels must satisfy to run this agent (`arch: arm64`,
    /// `region: [eu, us]`, `wasm: ">=2.1"`, `gpu: "*"`, ...).
    public var selector: LabelSelector
    /// Agents this one must run beside: an executor qualifies only while it runs a task of
    /// one of them (a cache, a model server).
    public var affinity: [String]
    /// Agents this one must not share an executor with (replicas of itself, say).
    public var antiAffinity: [String]
    /// How many attempts a task gets before the plane gives up on it; at least 1.
    /// Preemptions do not count as attempts.
    public var maxAttempts: Int

    public init(name: String, version: String = "1", requires: Resources,
                selector: LabelSelector = LabelSelector(), affinity: [String] = [], antiAffinity: [String] = [],
                maxAttempts: Int = 3) {
        self.name = name
        self.version = version
        self.requires = Resources(cpuMillis: requires.cpuMillis, memoryBytes: requires.memoryBytes,
                                  slots: max(1, requires.slots))
        self.selector = selector
        self.affinity = affinity
        self.antiAffinity = antiAffinity
        self.maxAttempts = max(1, maxAttempts)
    }
}

/// The agent definitions the plane places tasks for, indexed by dense `AgentID`.
public struct AgentRegistry: Sendable {
    public private(set) var definitions: [AgentDefinition] = []

    public init() {}

    /// Adds a definition and returns its id. A published version never changes (tasks in
    /// flight hold resources by its requirements): registering a name and version again
    /// returns the existing id and keeps the existing definition.
    @discardableResult
    public mutating func register(_ definition: AgentDefinition) -> AgentID {
        if let i = definitions.firstIndex(where: { $0.name == definition.name && $0.version == definition.version }) {
            return AgentID(i)
        }
        definitions.append(definition)
        return AgentID(definitions.count - 1)
    }

    public subscript(id: AgentID) -> AgentDefinition { definitions[id.index] }
    /// What one task of the agent reserves (read without copying its definition).
    @inline(__always) func requirements(of id: AgentID) -> Resources { definitions[id.index].requires }
    public var count: Int { definitions.count }
    /// The id of the newest registered version named `name`.
    public func id(named name: String) -> AgentID? {
        definitions.lastIndex { $0.name == name }.map(AgentID.init)
    }
}
