/// One entry of the audit trail: who or what changed, to which state, when.
///
/// The plane emits one for every state change. The simulator counts them; the live service
/// appends them to its append-only audit log. Kept free of strings so that emitting one on
/// every transition costs no allocation.
public struct AuditEvent: Hashable, Sendable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        case executorRegistered, executorRejoined, executorDraining, executorLeft, executorLost
        /// A lost executor spoke again within its tasks' leases and was taken back.
        case executorRecovered
        case taskSubmitted, taskQueued, taskDispatched, taskStarted
        case taskSucceeded, taskAttemptFailed, taskAttemptLost, taskPreempted, taskMoved, taskRetryScheduled
        case taskFailed, taskLost, taskCancelled
        /// A new agent version was published to the plane.
        case agentPublished
    }

    public var kind: Kind
    public var at: Instant
    /// The task concerned, or -1.
    public var task: Int32
    /// The executor concerned, or -1.
    public var executor: Int32
    /// The task's attempt, or 0.
    public var attempt: UInt16
    /// The agent concerned (of `agentPublished`), or -1.
    public var agent: Int32

    public init(_ kind: Kind, at: Instant, task: Int32 = -1, executor: Int32 = -1, attempt: UInt16 = 0, agent: Int32 = -1) {
        self.kind = kind
        self.at = at
        self.task = task
        self.executor = executor
        self.attempt = attempt
        self.agent = agent
    }
}
