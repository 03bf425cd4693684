import Foundation
import HoneycombAPI
import HoneycombDriver
import HoneycombLive

/// The API's own reads and writes in PostgreSQL (users, task history, the marketplace,
/// enrollment), beside the plane's batches (`PostgresPlaneStore`). Every row is read through
/// `RowFields`: a column that does not read as promised is an error naming it, never a crash.
struct APIStore: Sendable {
    let pool: ConnectionPool
    /// For the statements that need a connection of their own (transactions).
    let databaseURL: String

    private static let utc = #"AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"#

    func ping() async throws { _ = try await pool.next().execute("SELECT 1") }

    // MARK: Users and the audit log

    /// The user's row id, created on first use.
    func userID(name: String, role: Role) async throws -> Int64 {
        let rows = try await pool.next().execute("""
            INSERT INTO users (name, role) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id
            """, [name, role == .admin ? "admin" : "user"]).rows
        guard let row = rows.first else { throw StoreRowError(description: "users: the upsert returned no row") }
        return try RowFields(row, of: "user").int64(0)
    }

    func audit(actor: String, action: String, subject: String, detail json: String) async throws {
        try await pool.next().execute("INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4::jsonb)",
                                      [actor, action, subject, json])
    }

    // MARK: Tasks

    private static let taskColumns = """
        t.id, a.name, v.version, u.name, t.state, t.attempt, t.executor_id, t.priority, t.latency_target_ms,
        to_char(t.submitted_at \(utc)), to_char(t.updated_at \(utc)), t.input::text
        FROM tasks t JOIN agent_versions v ON v.id = t.agent_version_id JOIN agents a ON a.id = v.agent_id
        JOIN users u ON u.id = t.user_id
        """

    private static func taskView(_ r: [String?]) throws -> TaskView {
        let f = RowFields(r, of: "task")
        return TaskView(id: try f.int64(0), agent: try f.text(1), version: try f.text(2), user: try f.text(3),
                        state: try f.text(4), attempt: Int(try f.int64(5)), executor: try f.optionalInt64(6),
                        priority: Int(try f.int64(7)), latencyTargetMs: try f.optionalInt64(8).map { Int($0) },
                        submittedAt: try f.text(9), updatedAt: try f.text(10), input: try f.json(11, as: JSONValue.self))
    }

    func task(_ id: Int64) async throws -> TaskView? {
        try await pool.next().execute("SELECT \(Self.taskColumns) WHERE t.id = $1", [String(id)]).rows.first.map(Self.taskView)
    }

    /// The task's status changes, oldest first.
    func history(of task: Int64) async throws -> [HistoryView] {
        try await pool.next().execute("""
            SELECT state, attempt, executor_id, to_char(at \(Self.utc)) FROM task_status_history WHERE task_id = $1 ORDER BY id
            """, [String(task)]).rows.map { r in
            let f = RowFields(r, of: "task history")
            return HistoryView(state: try f.text(0), attempt: Int(try f.int64(1)), executor: try f.optionalInt64(2), at: try f.text(3))
        }
    }

    /// The result of the task's latest attempt that reported one.
    func latestResult(of task: Int64) async throws -> ResultView? {
        try await pool.next().execute("""
            SELECT attempt, succeeded, output::text, to_char(reported_at \(Self.utc))
            FROM task_results WHERE task_id = $1 ORDER BY attempt DESC LIMIT 1
            """, [String(task)]).rows.first.map { r in
            let f = RowFields(r, of: "task result")
            return ResultView(attempt: Int(try f.int64(0)), succeeded: try f.bool(1), output: try f.json(2, as: JSONValue.self),
                              reportedAt: try f.text(3))
        }
    }

    /// A page of tasks after `after`, in id order, filtered by what is given.
    func tasks(after: Int64, state: String?, agent: String?, user: String?, limit: Int) async throws -> [TaskView] {
        try await pool.next().execute("""
            SELECT \(Self.taskColumns) WHERE t.id > $1 AND ($2::text IS NULL OR t.state = $2) AND ($3::text IS NULL OR a.name = $3)
            AND ($4::text IS NULL OR u.name = $4) ORDER BY t.id LIMIT $5
            """, [String(after), state, agent, user, String(limit)]).rows.map(Self.taskView)
    }

    // MARK: Agents

    func agentVersion(name: String, version: String) async throws -> StoredAgent? {
        try await pool.next().execute("""
            SELECT \(StoredAgent.columns) FROM agent_versions v JOIN agents a ON a.id = v.agent_id WHERE a.name = $1 AND v.version = $2
            """, [name, version]).rows.first.map(StoredAgent.init(row:))
    }

    /// The key the agent's versions are signed with; nil for an agent not yet published.
    func publisherKey(agent name: String) async throws -> String? {
        try await pool.next().execute("SELECT publisher_key FROM agents WHERE name = $1", [name]).rows.first
            .map { try RowFields($0, of: "agent").text(0) }
    }

    /// Why a version could not be stored.
    enum PublishConflict: Error {
        case versionExists
        case otherPublisherKey
    }

    /// Stores a new version (and its agent, on first publication) with its audit entry, in
    /// one transaction; the bundle is in S3 already under `bundleKey`.
    func publish(agent name: String, owner: Int64, by actor: String, _ body: PublishRequest, bundleKey: String,
                 sha256: String, size: Int) async throws -> StoredAgent {
        let conn = try await PostgresConnection(url: databaseURL)
        let labels = String(decoding: try JSONEncoder().encode(body.labels ?? [:]), as: UTF8.self)
        let profile = try (body.profile ?? .object([:])).text(field: "profile")
        do {
            return try await conn.transaction { tx in
                let agentRow = try await tx.execute("""
                    INSERT INTO agents (name, owner_id, description, publisher_key) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (name) DO UPDATE SET description = CASE WHEN $3 = '' THEN agents.description ELSE $3 END
                    RETURNING id, publisher_key
                    """, [name, String(owner), body.description ?? "", body.publisherKey]).rows
                guard let a = agentRow.first else { throw StoreRowError(description: "agents: the upsert returned no row") }
                let f = RowFields(a, of: "agent")
                // Checked again here: another first version may have won the race meanwhile.
                guard try f.text(1) == body.publisherKey else { throw PublishConflict.otherPublisherKey }
                let inserted = try await tx.execute("""
                    INSERT INTO agent_versions (agent_id, version, cpu_millis, memory_bytes, labels, max_attempts, bundle_key,
                                                bundle_sha256, signature, bundle_size, profile)
                    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11::jsonb) RETURNING id
                    """, [String(try f.int64(0)), body.version, String(body.cpuMillis), String(body.memoryBytes), labels,
                          String(body.maxAttempts ?? 3), bundleKey, sha256, body.signature.lowercased(), String(size), profile]).rows
                guard let v = inserted.first else { throw StoreRowError(description: "agent_versions: the insert returned no row") }
                let id = try RowFields(v, of: "agent version").int64(0)
                try await tx.execute("INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, 'agent.published', $2, $3::jsonb)",
                                     [actor, "agent/\(name)/\(body.version)", #"{"sha256":"\#(sha256)"}"#])
                let stored = try await tx.execute("""
                    SELECT \(StoredAgent.columns) FROM agent_versions v JOIN agents a ON a.id = v.agent_id WHERE v.id = $1
                    """, [String(id)]).rows
                guard let row = stored.first else { throw StoreRowError(description: "agent_versions: version \(id) not read back") }
                return try StoredAgent(row: row)
            }
        } catch let e as PostgresError where e.sqlState == "23505" {
            throw PublishConflict.versionExists
        }
    }

    /// Every agent with its versions, by name, versions oldest first.
    func marketplace() async throws -> [AgentListing] {
        let rows = try await pool.next().execute("""
            SELECT a.name, a.description, v.version, v.bundle_sha256, v.bundle_size, v.cpu_millis, v.memory_bytes,
                   to_char(v.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM agents a JOIN agent_versions v ON v.agent_id = a.id ORDER BY a.name, v.id
            """).rows
        var agents: [AgentListing] = []
        for r in rows {
            let f = RowFields(r, of: "agent version")
            let v = AgentListing.Version(version: try f.text(2), sha256: try f.text(3), publishedAt: try f.text(7),
                                         bundleBytes: try f.int64(4), cpuMillis: try f.int64(5), memoryBytes: try f.int64(6))
            let name = try f.text(0)
            if agents.last?.name == name { agents[agents.count - 1].versions.append(v) }
            else { agents.append(AgentListing(name: name, description: try f.text(1), versions: [v])) }
        }
        return agents
    }

    // MARK: Executors

    /// Stores a one-time enrollment token's hash, valid for an hour; returns when it expires.
    func createEnrollmentToken(hash: String, createdBy actor: String) async throws -> String {
        let rows = try await pool.next().execute("""
            INSERT INTO enrollment_tokens (token_hash, created_by, expires_at) VALUES ($1, $2, now() + interval '1 hour')
            RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            """, [hash, actor]).rows
        guard let r = rows.first else { throw StoreRowError(description: "enrollment_tokens: the insert returned no row") }
        return try RowFields(r, of: "enrollment token").text(0)
    }

    /// True when the token could enroll now (known, unused, unexpired).
    func enrollmentTokenUsable(hash: String) async throws -> Bool {
        try await !pool.next().execute(
            "SELECT 1 FROM enrollment_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()", [hash]).rows.isEmpty
    }

    func executorNameTaken(_ name: String) async throws -> Bool {
        try await !pool.next().execute("SELECT 1 FROM executors WHERE name = $1", [name]).rows.isEmpty
    }

    enum EnrollOutcome {
        case enrolled(Int64)
        case tokenUnusable
        case nameTaken
    }

    /// Spends the token and enrolls the executor under `name`, audited, in one transaction.
    func enroll(name: String, tokenHash hash: String) async throws -> EnrollOutcome {
        let conn = try await PostgresConnection(url: databaseURL)
        do {
            let id: Int64? = try await conn.transaction { tx in
                let claimed = try await tx.execute("""
                    UPDATE enrollment_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
                    RETURNING created_by
                    """, [hash]).rows
                guard !claimed.isEmpty else { return nil }
                let rows = try await tx.execute("""
                    INSERT INTO executors (name, cpu_millis, memory_bytes, slots, state) VALUES ($1, 0, 0, 1, 'enrolled') RETURNING id
                    """, [name]).rows
                guard let r = rows.first else { throw StoreRowError(description: "executors: the insert returned no row") }
                let id = try RowFields(r, of: "executor").int64(0)
                try await tx.execute("UPDATE enrollment_tokens SET executor_id = $1 WHERE token_hash = $2", [String(id), hash])
                try await tx.execute("INSERT INTO audit_log (actor, action, subject) VALUES ($1, 'executor.enrolled', $2)",
                                     ["enrollment", "executor/\(id)"])
                return id
            }
            return id.map(EnrollOutcome.enrolled) ?? .tokenUnusable
        } catch let e as PostgresError where e.sqlState == "23505" {
            return .nameTaken
        }
    }

    /// An executor's row: what enrollment and registration stored.
    struct ExecutorRow {
        var id: Int64
        var name: String
        var state: String
        var labels: [String: String]
        var cpuMillis, memoryBytes, slots: Int64
    }

    /// A page of enrolled executors: at most `limit` of those after id `after`, in id order.
    func executors(after: Int64, limit: Int) async throws -> [ExecutorRow] {
        try await pool.next().execute("""
            SELECT id, name, state, labels::text, cpu_millis, memory_bytes, slots FROM executors WHERE id > $1 ORDER BY id LIMIT $2
            """, [String(after), String(limit)]).rows.map { r in
            let f = RowFields(r, of: "executor")
            return ExecutorRow(id: try f.int64(0), name: try f.text(1), state: try f.text(2),
                               labels: try f.json(3, as: [String: String].self) ?? [:], cpuMillis: try f.int64(4),
                               memoryBytes: try f.int64(5), slots: try f.int64(6))
        }
    }

    /// What the executor reported of itself.
    func register(executor id: Int64, _ body: ExecutorSpecBody) async throws {
        let labels = String(decoding: try JSONEncoder().encode(body.labels), as: UTF8.self)
        let models = String(decoding: try JSONEncoder().encode(body.localModels ?? []), as: UTF8.self)
        try await pool.next().execute("""
            UPDATE executors SET labels = $2::jsonb, cpu_millis = $3, memory_bytes = $4, slots = $5, local_models = $6::jsonb,
                   last_seen_at = now() WHERE id = $1
            """, [String(id), labels, String(body.cpuMillis), String(body.memoryBytes), String(body.slots), models])
    }

    /// The user's tasks stored under any of `keys` (idempotency keys).
    func keyedTasks(user: Int64, keys: [String]) async throws -> [String: KeyedTask] {
        var out: [String: KeyedTask] = [:]
        for r in try await pool.next().execute("""
            SELECT idempotency_key, id, request_hash, state FROM tasks WHERE user_id = $1 AND idempotency_key = ANY($2::text[])
            """, [String(user), PGArray.of(keys)]).rows {
            let f = RowFields(r, of: "task")
            out[try f.text(0)] = KeyedTask(id: try f.int64(1), requestHash: try f.optionalText(2), state: try f.text(3))
        }
        return out
    }
}
