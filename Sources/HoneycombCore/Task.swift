/// A request to run one task of an agent.
public struct TaskSpec: Hashable, Sendable {
    public var id: TaskID
    public var agent: AgentID
    /// Who submitted it: decides its fair share, and which private executors it may use.
    public var tenant: TenantID
    /// Its priority class: higher goes first, and may preempt lower when the policy allows.
    public var priority: Int8

    public init(id: TaskID, agent: AgentID, tenant: TenantID = .shared, priority: Int8 = 0) {
        self.id = id
        self.agent = agent
        self.tenant = tenant
        self.priority = priority
    }
}

/// Where a task is in its life.
///
/// `submitted → queued → dispatched → running → succeeded | failed | lost`; a failed or lost
/// attempt goes to `backoff` and back to `queued` while attempts remain, otherwise it ends in
/// `failed` or `lost`. A cancelled task ends in `cancelled` from any state. Terminal states never
/// change again.
public enum TaskState: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case unknown
    case queued
    case dispatched
    case running
    case backoff
    case succeeded
    case failed
    case lost
    case cancelled

    /// True for the states a task never leaves.
    @inlinable public var isTerminal: Bool { self == .succeeded || self == .failed || self == .lost || self == .cancelled }

    public var description: String {
        switch self {
        case .unknown: "unknown"
        case .queued: "queued"
        case .dispatched: "dispatched"
        case .running: "running"
        case .backoff: "backoff"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .lost: "lost"
        case .cancelled: "cancelled"
        }
    }
}

/// The plane's record of one task: compact and trivially copyable, one per task id.
public struct TaskRecord: Sendable {
    public var agent: AgentID
    public var tenant: TenantID
    public var priority: Int8
    public var state: TaskState
    /// The current (or last) attempt, from 1; 0 before the first dispatch.
    public var attempt: UInt16
    /// The executor of the current attempt, or -1.
    public var executor: Int32
    public var submittedAt: Instant
    /// How many of its attempts were preempted (they do not count against `maxAttempts`).
    public var preemptions: UInt16 = 0

    static let empty = TaskRecord(agent: AgentID(-1), tenant: .shared, priority: 0, state: .unknown, attempt: 0,
                                  executor: -1, submittedAt: .zero)
}

/// The plane's table of tasks, indexed by dense `TaskID`.
public struct TaskTable: Sendable {
    var records: [TaskRecord] = []
    /// How many tasks sit in each state, indexed by `TaskState.rawValue`.
    public private(set) var countByState = [Int](repeating: 0, count: TaskState.allCases.count)

    public init() {}

    /// The record of `id`, or `nil` for an id the plane never saw.
    public subscript(id: TaskID) -> TaskRecord? {
        guard id.index >= 0, id.index < records.count, records[id.index].state != .unknown else { return nil }
        return records[id.index]
    }

    /// How many tasks are in `state` now.
    public func count(_ state: TaskState) -> Int { countByState[Int(state.rawValue)] }

    mutating func insert(_ record: TaskRecord, at id: TaskID) {
        while records.count <= id.index { records.append(.empty) }
        records[id.index] = record
        countByState[Int(record.state.rawValue)] += 1
    }

    mutating func setState(_ id: TaskID, _ state: TaskState) {
        countByState[Int(records[id.index].state.rawValue)] -= 1
        records[id.index].state = state
        countByState[Int(state.rawValue)] += 1
    }
}
