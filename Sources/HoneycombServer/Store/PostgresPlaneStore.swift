import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombLive

extension StoredAgent {
    static let columns = """
        v.id, a.name, v.version, v.cpu_millis, v.memory_bytes, v.labels::text, v.max_attempts, v.bundle_key,
        v.bundle_sha256, v.signature, coalesce(a.publisher_key, ''), v.profile::text
        """

    /// A row of `columns`.
    init(row r: [String?]) throws {
        let f = RowFields(r, of: "agent version")
        self.init(id: try f.int64(0), name: try f.text(1), version: try f.text(2), cpuMillis: try f.int64(3),
                  memoryBytes: try f.int64(4), labels: try f.json(5, as: [String: String].self) ?? [:], maxAttempts: Int(try f.int64(6)),
                  bundleKey: try f.text(7), bundleSHA256: try f.text(8), signature: try f.text(9), publisherKey: try f.text(10),
                  profile: try f.text(11))
    }
}

/// The plane's reads and writes in PostgreSQL.
///
/// Batches go in as a handful of `unnest` statements in one transaction, whatever their
/// size: this is what lets the service accept thousands of tasks a second.
struct PostgresPlaneStore: PlaneStore {
    /// The connection that holds the scheduler's advisory lock: every write goes through it.
    let db: PostgresConnection
    /// Reads that need not wait behind the batches.
    let reads: APIStore

    func keyedTasks(user: Int64, keys: [String]) async throws -> [String: KeyedTask] {
        try await reads.keyedTasks(user: user, keys: keys)
    }

    func load(at now: Instant) async throws -> StoredPlane {
        StoredPlane(agents: try await agentVersions(), executors: try await liveExecutors(), tasks: try await unfinishedTasks(),
                    llm: try await llmLedger(since: (now - .minutes(1)).nanoseconds),
                    listeningUntilNs: try await db.execute("SELECT until_ns FROM plane_listening WHERE id = 1").rows.first
                        .map { try RowFields($0, of: "plane listening").int64(0) })
    }

    /// The open LLM calls and the cloud calls of the last minute, what ended calls were
    /// charged by provider and tenant, and the last call id.
    func llmLedger(since: Int64) async throws -> StoredLLMLedger {
        var ledger = StoredLLMLedger()
        ledger.calls = try await db.execute("""
            SELECT id, routed_ns, origin, target, executor, provider, model, tenant, reserved_micro_usd, input_price,
                   output_price, window_tokens, cost_micro_usd
            FROM llm_calls WHERE cost_micro_usd IS NULL OR (target = 'cloud' AND routed_ns > $1) ORDER BY id
            """, [String(since)]).rows.map { r in
            let f = RowFields(r, of: "llm call")
            return StoredLLMCall(id: try f.int64(0), routedNs: try f.int64(1), origin: try f.int64(2), target: try f.text(3),
                                 executor: try f.optionalInt64(4), provider: try f.optionalText(5), model: try f.text(6),
                                 tenant: try f.text(7), reservedMicroUSD: try f.int64(8), inputPricePerMillion: try f.double(9),
                                 outputPricePerMillion: try f.double(10), windowTokens: Int(try f.int64(11)),
                                 costMicroUSD: try f.optionalInt64(12))
        }
        for r in try await db.execute("""
            SELECT 'p', provider, sum(cost_micro_usd)::bigint FROM llm_calls WHERE target = 'cloud' AND cost_micro_usd IS NOT NULL
            GROUP BY provider
            UNION ALL
            SELECT 't', tenant, sum(cost_micro_usd)::bigint FROM llm_calls WHERE target = 'cloud' AND cost_micro_usd IS NOT NULL
            GROUP BY tenant
            """).rows {
            let f = RowFields(r, of: "llm spend")
            if try f.text(0) == "p" { ledger.spentByProvider[try f.text(1)] = try f.int64(2) }
            else { ledger.spentByTenant[try f.text(1)] = try f.int64(2) }
        }
        ledger.lastCall = try await db.execute("SELECT coalesce(max(id), 0) FROM llm_calls").rows.first
            .map { try RowFields($0, of: "llm call id").int64(0) } ?? 0
        return ledger
    }

    func agentVersions() async throws -> [StoredAgent] {
        try await db.execute("""
            SELECT \(StoredAgent.columns) FROM agent_versions v JOIN agents a ON a.id = v.agent_id ORDER BY v.id
            """).rows.map(StoredAgent.init(row:))
    }

    /// Executors the store last saw online or draining, with what they reported; and those
    /// declared lost that still hold attempts (within a lease): they come back as online, so
    /// their work stays theirs until their heartbeats are missed and the lease runs out again,
    /// rather than being started a second time elsewhere.
    func liveExecutors() async throws -> [StoredExecutor] {
        try await db.execute("""
            SELECT id, name, state, labels::text, cpu_millis, memory_bytes, slots, local_models::text, last_heard_ns FROM executors e
            WHERE state IN ('online', 'draining')
               OR (state = 'lost' AND EXISTS (SELECT 1 FROM tasks t WHERE t.executor_id = e.id AND t.state IN ('dispatched', 'running')))
            ORDER BY id
            """).rows.map { r in
            let f = RowFields(r, of: "executor")
            return StoredExecutor(id: try f.int64(0), name: try f.text(1), state: try f.text(2),
                                  spec: ExecutorSpecBody(labels: try f.json(3, as: [String: String].self) ?? [:], cpuMillis: try f.int64(4),
                                                         memoryBytes: try f.int64(5), slots: try f.int64(6),
                                                         localModels: try f.json(7, as: [ExecutorSpecBody.LocalModelBody].self)),
                                  lastHeardNs: try f.optionalInt64(8))
        }
    }

    func unfinishedTasks() async throws -> [StoredTask] {
        try await db.execute("""
            SELECT t.id, t.agent_version_id, t.user_id, t.priority, t.state, t.attempt, t.executor_id, t.submitted_ns,
                   t.input::text, u.name
            FROM tasks t JOIN users u ON u.id = t.user_id
            WHERE t.state NOT IN ('succeeded', 'failed', 'lost', 'cancelled') ORDER BY t.id
            """).rows.map { r in
            let f = RowFields(r, of: "task")
            return StoredTask(id: try f.int64(0), agentVersion: try f.int64(1), userID: try f.int64(2), userName: try f.text(9),
                              priority: Int8(clamping: try f.int64(3)), state: try f.text(4),
                              attempt: UInt16(clamping: try f.int64(5)), executor: try f.optionalInt64(6),
                              submittedNs: try f.int64(7), input: try f.text(8))
        }
    }

    /// `n` fresh task ids from the table's sequence (safe across replicas and restarts).
    func allocateTaskIDs(_ n: Int) async throws -> [Int64] {
        try await db.execute("SELECT nextval(pg_get_serial_sequence('tasks', 'id')) FROM generate_series(1, $1)",
                             [String(n)]).rows.map { try RowFields($0, of: "task id").int64(0) }
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
                    ON CONFLICT (task_id, attempt) WHERE state = 'running' DO NOTHING
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
            if !w.llmOpened.isEmpty {
                let c = w.llmOpened
                try await tx.execute("""
                    INSERT INTO llm_calls (id, routed_ns, origin, target, executor, provider, model, tenant, reserved_micro_usd,
                                           input_price, output_price, window_tokens)
                    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
                                         $7::text[], $8::text[], $9::bigint[], $10::float8[], $11::float8[], $12::int[])
                    """, [PGArray.of(c.map { String($0.id) }), PGArray.of(c.map { String($0.routedNs) }),
                          PGArray.of(c.map { String($0.origin) }), PGArray.of(c.map(\.target)),
                          PGArray.of(c.map { $0.executor.map(String.init) }), PGArray.of(c.map(\.provider)),
                          PGArray.of(c.map(\.model)), PGArray.of(c.map(\.tenant)), PGArray.of(c.map { String($0.reservedMicroUSD) }),
                          PGArray.of(c.map { String($0.inputPricePerMillion) }), PGArray.of(c.map { String($0.outputPricePerMillion) }),
                          PGArray.of(c.map { String($0.windowTokens) })])
            }
            if !w.llmEnded.isEmpty {
                let e = w.llmEnded
                try await tx.execute("""
                    UPDATE llm_calls SET cost_micro_usd = x.c, window_tokens = x.w, ended_ns = x.ns
                    FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::bigint[]) AS x(id, c, w, ns) WHERE llm_calls.id = x.id
                    """, [PGArray.of(e.map { String($0.id) }), PGArray.of(e.map { String($0.cost) }),
                          PGArray.of(e.map { String($0.windowTokens) }), PGArray.of(e.map { String($0.atNs) })])
            }
            if !w.executorsHeard.isEmpty {
                let e = w.executorsHeard
                try await tx.execute("""
                    UPDATE executors SET last_heard_ns = x.ns FROM unnest($1::bigint[], $2::bigint[]) AS x(id, ns)
                    WHERE executors.id = x.id
                    """, [PGArray.of(e.map { String($0.id) }), PGArray.of(e.map { String($0.atNs) })])
            }
            if let ns = w.listeningNs {
                try await tx.execute("""
                    INSERT INTO plane_listening (id, until_ns) VALUES (1, $1)
                    ON CONFLICT (id) DO UPDATE SET until_ns = greatest(plane_listening.until_ns, excluded.until_ns)
                    """, [String(ns)])
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
