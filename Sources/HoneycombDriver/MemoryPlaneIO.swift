import HoneycombCore
import Synchronization

/// The plane's store in memory, kept as the PostgreSQL store keeps its tables, with faults a
/// test (or the fuzzer) switches on: the live driver's batch loop, rebuild and failover run
/// against it without a server.
package actor MemoryPlaneStore: PlaneStore {
    /// What the next commit does instead of landing cleanly.
    package enum CommitFault: Sendable, Equatable {
        /// It fails: nothing lands.
        case fail
        /// It lands, but its reply is lost: the caller sees a failure.
        case loseReply
        /// It lands after `span` (of the clock given to `slowCommits`): the plane's time moves on meanwhile.
        case slow(TimeSpan)
    }

    /// A task row: what `StoredTask` reads, plus where it ended.
    package struct TaskRow: Sendable {
        package var stored: StoredTask
        package var idempotencyKey: String?
        package var requestHash: String?
    }

    package private(set) var agents: [StoredAgent] = []
    package private(set) var executors: [Int64: StoredExecutor] = [:]
    package private(set) var listeningUntilNs: Int64?
    package private(set) var tasks: [Int64: TaskRow] = [:]
    /// The tasks not ended (queued, dispatched, running, backing off), for checks that look
    /// at those only.
    package private(set) var unfinished: Set<Int64> = []
    package private(set) var history: [(task: Int64, state: String, attempt: Int, executor: Int64?)] = []
    package private(set) var results: [Int64: [(attempt: Int, succeeded: Bool, output: String?)]] = [:]
    package private(set) var audit: [(actor: String, action: String, subject: String)] = []
    package private(set) var commits = 0
    /// Commits refused by the unique index on (user, idempotency key).
    package private(set) var uniqueViolations = 0
    /// `running` rows of an attempt already started, which the store's index keeps out.
    package private(set) var repeatedStarts = 0
    private var starts = Set<String>()
    package private(set) var llmCalls: [Int64: StoredLLMCall] = [:]
    private var users: [Int64: String] = [:]
    private var nextTaskID: Int64 = 1
    /// `user:key` of every keyed task.
    private var keyed: [String: Int64] = [:]
    private var faults: [CommitFault] = []
    private var clock: ManualClock?

    package init() {}

    package func add(agent: StoredAgent) { agents.append(agent) }
    package func add(user id: Int64, name: String) { users[id] = name }
    /// An executor as enrollment and registration leave it.
    package func put(executor: StoredExecutor) { executors[executor.id] = executor }
    /// The clock a slow commit moves.
    package func slowCommits(on clock: ManualClock) { self.clock = clock }
    /// The next commits fail or lose their replies, in this order.
    package func inject(_ fault: CommitFault, times: Int = 1) { faults += Array(repeating: fault, count: times) }

    package struct Unavailable: Error, CustomStringConvertible {
        package var description: String
    }

    package func load(at now: Instant) async throws -> StoredPlane {
        var ledger = StoredLLMLedger(lastCall: llmCalls.keys.max() ?? 0)
        let since = (now - .minutes(1)).nanoseconds
        for c in llmCalls.values.sorted(by: { $0.id < $1.id }) {
            if c.costMicroUSD == nil || (c.target == "cloud" && c.routedNs > since) { ledger.calls.append(c) }
            if let cost = c.costMicroUSD, c.target == "cloud" {
                ledger.spentByProvider[c.provider ?? "", default: 0] += cost
                ledger.spentByTenant[c.tenant, default: 0] += cost
            }
        }
        let held = Set(tasks.values.filter { ["dispatched", "running"].contains($0.stored.state) }.compactMap(\.stored.executor))
        return StoredPlane(
            agents: agents.sorted { $0.id < $1.id },
            executors: executors.values.filter { ["online", "draining"].contains($0.state) || ($0.state == "lost" && held.contains($0.id)) }
                .sorted { $0.id < $1.id },
            tasks: tasks.values.map(\.stored).filter { !["succeeded", "failed", "lost", "cancelled"].contains($0.state) }
                .sorted { $0.id < $1.id },
            llm: ledger, listeningUntilNs: listeningUntilNs)
    }

    package func allocateTaskIDs(_ n: Int) async throws -> [Int64] {
        defer { nextTaskID += Int64(n) }
        return (0..<Int64(n)).map { nextTaskID + $0 }
    }

    package func keyedTasks(user: Int64, keys: [String]) async throws -> [String: KeyedTask] {
        var out: [String: KeyedTask] = [:]
        for key in keys {
            guard let id = keyed["\(user):\(key)"], let row = tasks[id] else { continue }
            out[key] = KeyedTask(id: id, requestHash: row.requestHash, state: row.stored.state)
        }
        return out
    }

    package func commit(_ w: BatchWrite) async throws {
        let fault = faults.isEmpty ? nil : faults.removeFirst()
        if fault == .fail { throw Unavailable(description: "the memory store refused the commit (injected)") }
        if case .slow(let span) = fault { clock?.advance(span) }
        guard !w.isEmpty else { return }
        // As PostgreSQL's unique index on (user, key): a second task under one key fails the
        // whole commit. Counted, since the idempotency ledger should have answered it first.
        var batchKeys = Set<String>()
        for t in w.newTasks {
            guard let key = t.idempotencyKey.map({ "\(t.userID):\($0)" }) else { continue }
            guard keyed[key] == nil, batchKeys.insert(key).inserted else {
                uniqueViolations += 1
                throw Unavailable(description: "duplicate key value violates unique constraint: \(key)")
            }
        }
        commits += 1
        for t in w.newTasks {
            tasks[t.id] = TaskRow(stored: StoredTask(id: t.id, agentVersion: t.agentVersion, userID: t.userID,
                                                     userName: users[t.userID] ?? "user\(t.userID)", priority: t.priority,
                                                     state: "queued", attempt: 0, executor: nil, submittedNs: t.submittedNs,
                                                     input: t.input),
                                  idempotencyKey: t.idempotencyKey, requestHash: t.requestHash)
            if let key = t.idempotencyKey { keyed["\(t.userID):\(key)"] = t.id }
            unfinished.insert(t.id)
        }
        for s in w.taskStates {
            tasks[s.id]?.stored.state = s.state
            tasks[s.id]?.stored.attempt = UInt16(s.attempt)
            tasks[s.id]?.stored.executor = s.executor
            if ["succeeded", "failed", "lost", "cancelled"].contains(s.state) {
                unfinished.remove(s.id)
            } else if tasks[s.id] != nil {
                unfinished.insert(s.id)
            }
        }
        for h in w.history {
            // As PostgreSQL's unique index on an attempt's start: a repeat is not written (and counted).
            if h.state == "running", !starts.insert("\(h.task)-\(h.attempt)").inserted { repeatedStarts += 1; continue }
            history.append((h.task, h.state, h.attempt, h.executor))
        }
        for r in w.results where !(results[r.task] ?? []).contains(where: { $0.attempt == r.attempt }) {
            results[r.task, default: []].append((r.attempt, r.succeeded, r.output))
        }
        for a in w.audit { audit.append((a.actor, a.action, a.subject)) }
        for e in w.executorStates { executors[e.id]?.state = e.state }
        for e in w.executorsHeard { executors[e.id]?.lastHeardNs = e.atNs }
        if let ns = w.listeningNs { listeningUntilNs = ns }
        for c in w.llmOpened { llmCalls[c.id] = c }
        for e in w.llmEnded {
            llmCalls[e.id]?.costMicroUSD = e.cost
            llmCalls[e.id]?.windowTokens = e.windowTokens
        }
        if fault == .loseReply { throw Unavailable(description: "the memory store's reply was lost (injected)") }
    }

    /// History rows from the `from`-th on (for checks that read it as it grows).
    package func history(from: Int) -> ArraySlice<(task: Int64, state: String, attempt: Int, executor: Int64?)> {
        history[min(from, history.count)...]
    }

    /// The latest result of the task's attempt, if one was stored.
    package func result(of task: Int64, attempt: Int) -> Bool? {
        results[task]?.last { $0.attempt == attempt }?.succeeded
    }

    /// The task's history, as (state, attempt) in order.
    package func history(of task: Int64) -> [(state: String, attempt: Int)] {
        history.filter { $0.task == task }.map { ($0.state, $0.attempt) }
    }
}

/// A dispatch bus in memory: every message published, once per message id (as JetStream's
/// duplicate window), with failures a test switches on.
package actor MemoryDispatchBus: DispatchBus {
    package private(set) var delivered: [ExecutorMessage] = []
    private var seen: Set<String> = []
    private var failures = 0
    /// Publish attempts refused so far.
    package private(set) var refused = 0

    package init() {}

    /// The next `times` publishes fail.
    package func fail(times: Int = 1) { failures += times }

    package func publish(_ messages: [ExecutorMessage]) async throws {
        if failures > 0 {
            failures -= 1
            refused += 1
            throw MemoryPlaneStore.Unavailable(description: "the memory bus refused the publish (injected)")
        }
        for m in messages where seen.insert(m.messageID).inserted { delivered.append(m) }
    }

    /// What went to `executor`, in order.
    package func messages(to executor: Int64) -> [ExecutorMessage] { delivered.filter { $0.executor == executor } }
}

/// A clock that moves only when told.
package final class ManualClock: PlaneClock {
    private let instant: Mutex<Instant>
    package init(_ start: Instant = .zero) { instant = Mutex(start) }
    package func now() -> Instant { instant.withLock { $0 } }
    package func advance(_ span: TimeSpan) { instant.withLock { $0 = $0 + span } }
}

/// Executor presence in memory (what Redis holds in service), for tests of its renewal and
/// refill.
package actor MemoryPresence: PresenceCache {
    package private(set) var keys: [Int64: UInt32] = [:]
    package init() {}

    package func mark(_ marks: [(executor: Int64, incarnation: UInt32)], ttl: Double) async throws {
        for m in marks { keys[m.executor] = m.incarnation }
    }
    package func markIfAbsent(_ executors: [Int64], ttl: Double) async throws {
        for e in executors where keys[e] == nil { keys[e] = 0 }
    }
    package func present() async throws -> [Int64] { keys.keys.sorted() }
    package private(set) var refillMark = false
    /// How many times the mark was read.
    package private(set) var refillChecks = 0
    package func refilled() async throws -> Bool {
        refillChecks += 1
        return refillMark
    }
    package func noteRefilled() async throws { refillMark = true }
    /// One key lost (it expired, say), the rest kept.
    package func remove(_ executor: Int64) { keys[executor] = nil }
    /// The cache flushed (Redis restarted).
    package func flush() {
        keys = [:]
        refillMark = false
    }
}
