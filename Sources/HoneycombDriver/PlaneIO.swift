import HoneycombCore

/// Where the live driver keeps the plane's state: PostgreSQL in service, memory in unit
/// tests, a simulated store with latencies and faults under the fuzzer.
///
/// A commit is all or nothing. A commit that throws may still have landed (its reply was
/// lost): the driver then rebuilds from what `load` reads back, so either way the plane
/// never runs ahead of the store.
package protocol PlaneStore: Sendable {
    /// Everything the plane needs to rebuild itself at `now` (the LLM calls of the minute
    /// before it, for the rate-limit windows).
    func load(at now: Instant) async throws -> StoredPlane
    /// `n` fresh task ids, never handed out before (safe across replicas and restarts).
    func allocateTaskIDs(_ n: Int) async throws -> [Int64]
    /// Writes a batch: all of it, or none.
    func commit(_ batch: BatchWrite) async throws
    /// The user's tasks stored under any of `keys` (idempotency keys), by key.
    func keyedTasks(user: Int64, keys: [String]) async throws -> [String: KeyedTask]
}

/// Where dispatches go: JetStream in service, memory in tests. A message published twice
/// (same `ExecutorMessage.messageID`) is delivered once.
package protocol DispatchBus: Sendable {
    func publish(_ messages: [ExecutorMessage]) async throws
}

/// Executor presence for operators (Redis in service): a cache, never the plane's truth.
///
/// Writes come in batches (Redis pipelines them), so that a large fleet's heartbeats cost a
/// round trip per few hundred executors, not one each.
package protocol PresenceCache: Sendable {
    /// Marks each executor present for `ttl` seconds, with its incarnation (heartbeats).
    func mark(_ marks: [(executor: Int64, incarnation: UInt32)], ttl: Double) async throws
    /// Marks each executor present unless the cache holds it already.
    func markIfAbsent(_ executors: [Int64], ttl: Double) async throws
    /// True while the cache holds the mark of the last refill (`noteRefilled`): a mark that
    /// lives until the cache loses everything (a flush, a restart that kept nothing).
    func refilled() async throws -> Bool
    func noteRefilled() async throws
}

/// The driver's time: the wall clock in service, a clock tests and the fuzzer move.
package protocol PlaneClock: Sendable {
    func now() -> Instant
}

/// The four things the live driver does I/O with.
package struct PlaneIO: Sendable {
    package var store: any PlaneStore
    package var bus: any DispatchBus
    package var presence: (any PresenceCache)?
    package var clock: any PlaneClock
    /// Where the driver says what its callers must not see (a store's own error message).
    package var log: @Sendable (String) -> Void

    package init(store: any PlaneStore, bus: any DispatchBus, presence: (any PresenceCache)?, clock: any PlaneClock,
                 log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.bus = bus
        self.presence = presence
        self.clock = clock
        self.log = log
    }
}

/// What a store holds of the plane: agent versions, the executors last seen online (or lost
/// while holding attempts), and the tasks not yet ended.
package struct StoredPlane: Sendable {
    package var agents: [StoredAgent] = []
    package var executors: [StoredExecutor] = []
    package var tasks: [StoredTask] = []
    package var llm = StoredLLMLedger()
    /// The last time a plane wrote that it was listening (nil: never).
    package var listeningUntilNs: Int64?
    package init(agents: [StoredAgent] = [], executors: [StoredExecutor] = [], tasks: [StoredTask] = [],
                 llm: StoredLLMLedger = StoredLLMLedger(), listeningUntilNs: Int64? = nil) {
        self.agents = agents
        self.executors = executors
        self.tasks = tasks
        self.llm = llm
        self.listeningUntilNs = listeningUntilNs
    }
}
