import Foundation
import HoneycombCore
import HoneycombLive

/// One agent version as the store keeps it.
struct AgentVersionRow: Sendable {
    var id: Int64
    var name: String
    var version: String
    var cpuMillis: Int64
    var memoryBytes: Int64
    var labels: [String: String]
    var maxAttempts: Int
    var bundleKey: String
    var bundleSHA256: String
    var signature: String
    var publisherKey: String
    var profile: String

    var definition: AgentDefinition {
        AgentDefinition(name: name, version: version,
                        requires: Resources(cpuMillis: cpuMillis, memoryBytes: memoryBytes, slots: 1),
                        selector: LabelSelector(exactly: LabelSet(labels.map { Label($0.key, $0.value) })),
                        maxAttempts: maxAttempts)
    }

    static let columns = """
        v.id, a.name, v.version, v.cpu_millis, v.memory_bytes, v.labels::text, v.max_attempts, v.bundle_key,
        v.bundle_sha256, v.signature, coalesce(a.publisher_key, ''), v.profile::text
        """

    init(row r: [String?]) {
        id = Int64(r[0]!)!
        name = r[1]!
        version = r[2]!
        cpuMillis = Int64(r[3]!)!
        memoryBytes = Int64(r[4]!)!
        labels = (try? JSONDecoder().decode([String: String].self, from: Data(r[5]!.utf8))) ?? [:]
        maxAttempts = Int(r[6]!)!
        bundleKey = r[7]!
        bundleSHA256 = r[8]!
        signature = r[9]!
        publisherKey = r[10]!
        profile = r[11]!
    }
}

/// An executor as the store keeps it.
struct ExecutorRow: Sendable {
    var id: Int64
    var name: String
    var state: String
    var spec: ExecutorSpecBody
}

/// What an executor reports of itself (JSON on the API, JSONB in the store).
struct ExecutorSpecBody: Codable, Sendable {
    var labels: [String: String]
    var cpuMillis: Int64
    var memoryBytes: Int64
    var slots: Int64
    var localModels: [LocalModelBody]?

    struct LocalModelBody: Codable, Sendable {
        var model: String
        var slots: Int
        var tokensPerSecond: Double
        var queueLimit: Int?
    }

    /// The core's spec; models the router does not know are ignored.
    func spec(models: [LLMModel]) -> ExecutorSpec {
        let local = (localModels ?? []).compactMap { m -> LocalModel? in
            guard let k = models.firstIndex(where: { $0.name == m.model }) else { return nil }
            return LocalModel(model: ModelID(Int32(k)), slots: m.slots, queueLimit: m.queueLimit ?? 0,
                              tokensPerSecond: m.tokensPerSecond)
        }
        return ExecutorSpec(labels: LabelSet(labels.map { Label($0.key, $0.value) }),
                            capacity: Resources(cpuMillis: cpuMillis, memoryBytes: memoryBytes, slots: slots),
                            localModels: local)
    }
}

/// A task not yet ended, as the store keeps it.
struct UnfinishedTaskRow: Sendable {
    var id: Int64
    var agentVersion: Int64
    var userID: Int64
    var userName: String
    var priority: Int8
    var state: String
    var attempt: UInt16
    var executor: Int64?
    var submittedNs: Int64
    var input: String
}

/// A new task, accepted in a batch.
struct NewTask: Sendable {
    var id: Int64
    var agentVersion: Int64
    var userID: Int64
    var priority: Int8
    var input: String
    var latencyTargetMs: Int?
    var submittedNs: Int64
    var idempotencyKey: String?
    var requestHash: String?
}

/// Everything one batch of plane inputs changed, written in one transaction.
struct BatchWrite: Sendable {
    var newTasks: [NewTask] = []
    /// Task id → (state, attempt, executor or nil), the plane's record after the batch.
    var taskStates: [(id: Int64, state: String, attempt: Int, executor: Int64?)] = []
    var history: [(task: Int64, state: String, attempt: Int, executor: Int64?, atNs: Int64)] = []
    var results: [(task: Int64, attempt: Int, succeeded: Bool, output: String?)] = []
    var audit: [(actor: String, action: String, subject: String, detail: String, atNs: Int64)] = []
    var executorStates: [(id: Int64, state: String)] = []

    var isEmpty: Bool {
        newTasks.isEmpty && taskStates.isEmpty && history.isEmpty && results.isEmpty && audit.isEmpty
            && executorStates.isEmpty
    }
}

/// The plane's reads and writes in PostgreSQL.
///
/// Batches go in as a handful of `unnest` statements in one transaction, whatever their
/// size: this is what lets the service accept thousands of tasks a second.
struct PlaneStore: Sendable {
    let db: PostgresConnection

    func agentVersions() async throws -> [AgentVersionRow] {
        try await db.execute("""
            SELECT \(AgentVersionRow.columns) FROM agent_versions v JOIN agents a ON a.id = v.agent_id ORDER BY v.id
            """).rows.map(AgentVersionRow.init(row:))
    }

    /// Executors the store last saw online or draining, with what they reported; and those
    /// declared lost that still hold attempts (within a lease): they come back as online, so
    /// their work stays theirs until their heartbeats are missed and the lease runs out again,
    /// rather than being started a second time elsewhere.
    func liveExecutors() async throws -> [ExecutorRow] {
        try await db.execute("""
            SELECT id, name, state, labels::text, cpu_millis, memory_bytes, slots, local_models::text FROM executors e
            WHERE state IN ('online', 'draining')
               OR (state = 'lost' AND EXISTS (SELECT 1 FROM tasks t WHERE t.executor_id = e.id AND t.state IN ('dispatched', 'running')))
            ORDER BY id
            """).rows.map { r in
            let labels = (try? JSONDecoder().decode([String: String].self, from: Data(r[3]!.utf8))) ?? [:]
            let models = try? JSONDecoder().decode([ExecutorSpecBody.LocalModelBody].self, from: Data(r[7]!.utf8))
            return ExecutorRow(id: Int64(r[0]!)!, name: r[1]!, state: r[2]!,
                               spec: ExecutorSpecBody(labels: labels, cpuMillis: Int64(r[4]!)!, memoryBytes: Int64(r[5]!)!,
                                                      slots: Int64(r[6]!)!, localModels: models))
        }
    }

    func unfinishedTasks() async throws -> [UnfinishedTaskRow] {
        try await db.execute("""
            SELECT t.id, t.agent_version_id, t.user_id, t.priority, t.state, t.attempt, t.executor_id, t.submitted_ns,
                   t.input::text, u.name
            FROM tasks t JOIN users u ON u.id = t.user_id
            WHERE t.state NOT IN ('succeeded', 'failed', 'lost', 'cancelled') ORDER BY t.id
            """).rows.map { r in
            UnfinishedTaskRow(id: Int64(r[0]!)!, agentVersion: Int64(r[1]!)!, userID: Int64(r[2]!)!, userName: r[9]!,
                              priority: Int8(r[3]!)!, state: r[4]!, attempt: UInt16(r[5]!)!,
                              executor: r[6].flatMap { Int64($0) }, submittedNs: Int64(r[7]!)!, input: r[8]!)
        }
    }

    /// `n` fresh task ids from the table's sequence (safe across replicas and restarts).
    func allocateTaskIDs(_ n: Int) async throws -> [Int64] {
        try await db.execute("SELECT nextval(pg_get_serial_sequence('tasks', 'id')) FROM generate_series(1, $1)",
                             [String(n)]).rows.map { Int64($0[0]!)! }
    }

    /// Writes a batch in one transaction: all of it lands, or none.
    func commit(_ w: BatchWrite) async throws {
        guard !w.isEmpty else { return }
        try await db.transaction { tx in
            if !w.newTasks.isEmpty {
                let t = w.newTasks
                try await tx.execute("""
                    INSERT INTO tasks (id, agent_version_id, user_id, priority, input, latency_target_ms, state, submitted_ns,
                                       submitted_at, idempotency_key, request_hash)
                    SELECT id, v, u, p, i::jsonb, l, 'queued', ns, to_timestamp(ns / 1e9), k, h
                    FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::smallint[], $5::text[], $6::int[], $7::bigint[],
                                $8::text[], $9::text[]) AS x(id, v, u, p, i, l, ns, k, h)
                    """, [PGArray.of(t.map { String($0.id) }), PGArray.of(t.map { String($0.agentVersion) }),
                          PGArray.of(t.map { String($0.userID) }), PGArray.of(t.map { String($0.priority) }),
                          PGArray.of(t.map(\.input)), PGArray.of(t.map { $0.latencyTargetMs.map(String.init) }),
                          PGArray.of(t.map { String($0.submittedNs) }), PGArray.of(t.map(\.idempotencyKey)),
                          PGArray.of(t.map(\.requestHash))])
            }
            if !w.taskStates.isEmpty {
                let s = w.taskStates
                try await tx.execute("""
                    UPDATE tasks SET state = x.s, attempt = x.a, executor_id = x.e, updated_at = now()
                    FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bigint[]) AS x(id, s, a, e) WHERE tasks.id = x.id
                    """, [PGArray.of(s.map { String($0.id) }), PGArray.of(s.map(\.state)),
                          PGArray.of(s.map { String($0.attempt) }), PGArray.of(s.map { $0.executor.map(String.init) })])
            }
            if !w.history.isEmpty {
                let h = w.history
                try await tx.execute("""
                    INSERT INTO task_status_history (task_id, state, attempt, executor_id, at)
                    SELECT t, s, a, e, to_timestamp(ns / 1e9)
                    FROM unnest($1::bigint[], $2::text[], $3::int[], $4::bigint[], $5::bigint[]) AS x(t, s, a, e, ns)
                    """, [PGArray.of(h.map { String($0.task) }), PGArray.of(h.map(\.state)),
                          PGArray.of(h.map { String($0.attempt) }), PGArray.of(h.map { $0.executor.map(String.init) }),
                          PGArray.of(h.map { String($0.atNs) })])
            }
            if !w.results.isEmpty {
                let r = w.results
                try await tx.execute("""
                    INSERT INTO task_results (task_id, attempt, succeeded, output)
                    SELECT t, a, s, o::jsonb FROM unnest($1::bigint[], $2::int[], $3::bool[], $4::text[]) AS x(t, a, s, o)
                    ON CONFLICT (task_id, attempt) DO NOTHING
                    """, [PGArray.of(r.map { String($0.task) }), PGArray.of(r.map { String($0.attempt) }),
                          PGArray.of(r.map { $0.succeeded ? "t" : "f" }), PGArray.of(r.map(\.output))])
            }
            if !w.audit.isEmpty {
                let a = w.audit
                try await tx.execute("""
                    INSERT INTO audit_log (actor, action, subject, detail, at)
                    SELECT ac, act, s, d::jsonb, to_timestamp(ns / 1e9)
                    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS x(ac, act, s, d, ns)
                    """, [PGArray.of(a.map(\.actor)), PGArray.of(a.map(\.action)), PGArray.of(a.map(\.subject)),
                          PGArray.of(a.map(\.detail)), PGArray.of(a.map { String($0.atNs) })])
            }
            if !w.executorStates.isEmpty {
                let e = w.executorStates
                try await tx.execute("""
                    UPDATE executors SET state = x.s FROM unnest($1::bigint[], $2::text[]) AS x(id, s) WHERE executors.id = x.id
                    """, [PGArray.of(e.map { String($0.id) }), PGArray.of(e.map(\.state))])
            }
        }
    }
}

extension PlaneConfig {
    /// The policy's tenant named like the user, else the shared tenant: a policy's `tenants`
    /// (weights, homes) apply live to the users of those names.
    func tenant(of user: String) -> TenantID {
        tenants.firstIndex { $0.name == user }.map { TenantID(Int32($0)) } ?? .shared
    }
}

/// PostgreSQL array literals for `unnest` parameters.
enum PGArray {
    /// `{"a","b",NULL}`: every element quoted, `"` and `\` escaped.
    static func of(_ items: [String?]) -> String {
        var out = "{"
        for (k, item) in items.enumerated() {
            if k > 0 { out += "," }
            guard let item else { out += "NULL"; continue }
            out += "\""
            for c in item.unicodeScalars {
                if c == "\"" || c == "\\" { out += "\\" }
                out.unicodeScalars.append(c)
            }
            out += "\""
        }
        return out + "}"
    }

    static func of(_ items: [String]) -> String { of(items.map { Optional($0) }) }
}
