/// A versioned change to the database schema.
public struct Migration: Sendable {
    public var version: Int
    public var name: String
    public var sql: String
}

/// The schema's migrations, applied in order, each in its own transaction, exactly once.
public enum Migrations {
    /// Every migration, oldest first. Never edit one that has shipped: add another.
    public static let all: [Migration] = [
        Migration(version: 1, name: "core tables", sql: """
        CREATE TABLE users (
            id BIGSERIAL PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL CHECK (role IN ('admin', 'user')),
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE executors (
            id BIGSERIAL PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            owner_id BIGINT REFERENCES users(id),
            exclusive BOOLEAN NOT NULL DEFAULT false,
            labels JSONB NOT NULL DEFAULT '{}',
            cpu_millis BIGINT NOT NULL CHECK (cpu_millis >= 0),
            memory_bytes BIGINT NOT NULL CHECK (memory_bytes >= 0),
            slots INT NOT NULL CHECK (slots >= 1),
            state TEXT NOT NULL DEFAULT 'unknown',
            credential_hash TEXT,
            enrolled_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE TABLE agents (
            id BIGSERIAL PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            owner_id BIGINT REFERENCES users(id),
            description TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE agent_versions (
            id BIGSERIAL PRIMARY KEY,
            agent_id BIGINT NOT NULL REFERENCES agents(id),
            version TEXT NOT NULL,
            cpu_millis BIGINT NOT NULL CHECK (cpu_millis >= 0),
            memory_bytes BIGINT NOT NULL CHECK (memory_bytes >= 0),
            labels JSONB NOT NULL DEFAULT '{}',
            max_attempts INT NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
            bundle_key TEXT NOT NULL,
            bundle_sha256 TEXT NOT NULL,
            signature TEXT NOT NULL,
            published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            UNIQUE (agent_id, version)
        );
        CREATE TABLE tasks (
            id BIGSERIAL PRIMARY KEY,
            agent_version_id BIGINT NOT NULL REFERENCES agent_versions(id),
            user_id BIGINT NOT NULL REFERENCES users(id),
            priority SMALLINT NOT NULL DEFAULT 0,
            input JSONB NOT NULL DEFAULT '{}',
            latency_target_ms INT,
            state TEXT NOT NULL,
            attempt INT NOT NULL DEFAULT 0,
            executor_id BIGINT REFERENCES executors(id),
            submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX tasks_by_user ON tasks (user_id, submitted_at);
        CREATE INDEX tasks_unfinished ON tasks (state) WHERE state NOT IN ('succeeded', 'failed', 'lost');
        CREATE TABLE task_status_history (
            id BIGSERIAL PRIMARY KEY,
            task_id BIGINT NOT NULL REFERENCES tasks(id),
            state TEXT NOT NULL,
            attempt INT NOT NULL,
            executor_id BIGINT REFERENCES executors(id),
            at TIMESTAMPTZ NOT NULL DEFAULT now()
        );
        CREATE INDEX task_status_history_by_task ON task_status_history (task_id, id);
        CREATE TABLE task_results (
            task_id BIGINT NOT NULL REFERENCES tasks(id),
            attempt INT NOT NULL,
            succeeded BOOLEAN NOT NULL,
            output JSONB,
            reported_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (task_id, attempt)
        );
        """),
        Migration(version: 2, name: "append-only audit log", sql: """
        CREATE TABLE audit_log (
            id BIGSERIAL PRIMARY KEY,
            at TIMESTAMPTZ NOT NULL DEFAULT now(),
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail JSONB NOT NULL DEFAULT '{}'
        );
        -- Nobody rewrites history, whatever their role: a trigger refuses UPDATE, DELETE and
        -- TRUNCATE; the service role is also never granted them.
        CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP USING ERRCODE = 'P0001';
        END $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
        -- Roles belong to the whole server: another database's migration may create it at
        -- the same moment, so "already there" is fine however it is reported.
        DO $$ BEGIN
            CREATE ROLE honeycomb_service;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        GRANT SELECT, INSERT, UPDATE ON users, executors, agents, agent_versions, tasks TO honeycomb_service;
        GRANT SELECT, INSERT ON task_status_history, task_results, audit_log TO honeycomb_service;
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO honeycomb_service;
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM honeycomb_service;
        """),
        Migration(version: 3, name: "live service", sql: """
        -- Every version of an agent is signed by one publisher key, fixed by its first version.
        ALTER TABLE agents ADD COLUMN publisher_key TEXT;
        ALTER TABLE agent_versions ADD COLUMN bundle_size BIGINT NOT NULL DEFAULT 0;
        -- What the reference executor draws a run time from, and the like.
        ALTER TABLE agent_versions ADD COLUMN profile JSONB NOT NULL DEFAULT '{}';
        ALTER TABLE executors ADD COLUMN local_models JSONB NOT NULL DEFAULT '[]';
        ALTER TABLE executors ADD COLUMN last_seen_at TIMESTAMPTZ;
        ALTER TABLE tasks ADD COLUMN submitted_ns BIGINT NOT NULL DEFAULT 0;
        -- One-time enrollment tokens, kept only as hashes.
        CREATE TABLE enrollment_tokens (
            token_hash TEXT PRIMARY KEY,
            created_by TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            expires_at TIMESTAMPTZ NOT NULL,
            used_at TIMESTAMPTZ,
            executor_id BIGINT REFERENCES executors(id)
        );
        GRANT SELECT, INSERT, UPDATE ON enrollment_tokens TO honeycomb_service;
        """),
        Migration(version: 4, name: "idempotency keys", sql: """
        -- A client's retry of a submission it is unsure of names the same key and gets the same task.
        ALTER TABLE tasks ADD COLUMN idempotency_key TEXT;
        -- What the keyed request asked for (SHA-256): the key used again for another request is refused.
        ALTER TABLE tasks ADD COLUMN request_hash TEXT;
        CREATE UNIQUE INDEX tasks_idempotency ON tasks (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
        """),
        Migration(version: 5, name: "llm ledger", sql: """
        -- Every routed LLM call, so that a rebuilt plane (a failover, a failed write) holds the
        -- budgets spent, the rate-limit windows and the open reservations as they were.
        CREATE TABLE llm_calls (
            id BIGINT PRIMARY KEY,
            routed_ns BIGINT NOT NULL,
            origin BIGINT NOT NULL,
            target TEXT NOT NULL CHECK (target IN ('local', 'peer', 'cloud')),
            executor BIGINT,
            provider TEXT,
            model TEXT NOT NULL,
            tenant TEXT NOT NULL,
            reserved_micro_usd BIGINT NOT NULL,
            input_price DOUBLE PRECISION NOT NULL,
            output_price DOUBLE PRECISION NOT NULL,
            window_tokens INT NOT NULL,
            cost_micro_usd BIGINT,
            ended_ns BIGINT
        );
        CREATE INDEX llm_calls_open ON llm_calls (id) WHERE cost_micro_usd IS NULL;
        CREATE INDEX llm_calls_recent ON llm_calls (routed_ns) WHERE target = 'cloud';
        GRANT SELECT, INSERT, UPDATE ON llm_calls TO honeycomb_service;
        """),
        Migration(version: 6, name: "liveness across rebuilds", sql: """
        -- When a plane last wrote that it heard from the executor, and until when a plane was
        -- listening: a rebuild counts an executor's silence from these, so that it grants no
        -- fresh heartbeat timeout to one already silent.
        ALTER TABLE executors ADD COLUMN last_heard_ns BIGINT;
        CREATE TABLE plane_listening (
            id INT PRIMARY KEY CHECK (id = 1),
            until_ns BIGINT NOT NULL
        );
        -- A status change is recorded once: a start repeated (its reply was lost) is not a second
        -- run. Repeats written before this keep their first row.
        DELETE FROM task_status_history h USING task_status_history first
        WHERE h.state = 'running' AND first.state = 'running' AND h.task_id = first.task_id AND h.attempt = first.attempt
          AND h.id > first.id;
        CREATE UNIQUE INDEX task_status_history_one_start ON task_status_history (task_id, attempt) WHERE state = 'running';
        """),
    ]

    /// Applies what is missing, oldest first, each migration and its record in one
    /// transaction; an advisory lock keeps two replicas from migrating at once. Returns the
    /// versions applied now.
    @discardableResult
    public static func apply(on db: PostgresConnection, migrations: [Migration] = all) async throws -> [Int] {
        try await db.execute("SELECT pg_advisory_lock(7203)")
        do {
            try await db.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """)
            let done = Set(try await db.execute("SELECT version FROM schema_migrations").rows.compactMap { $0[0].flatMap(Int.init) })
            var applied: [Int] = []
            for m in migrations.sorted(by: { $0.version < $1.version }) where !done.contains(m.version) {
                try await db.transaction { tx in
                    try await tx.executeScript(m.sql)
                    try await tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                         [String(m.version), m.name])
                }
                applied.append(m.version)
            }
            try await db.execute("SELECT pg_advisory_unlock(7203)")
            return applied
        } catch {
            _ = try? await db.execute("SELECT pg_advisory_unlock(7203)")
            throw error
        }
    }

    /// The highest version applied, or 0.
    public static func currentVersion(on db: PostgresConnection) async throws -> Int {
        let exists = try await db.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").rows[0][0] == "t"
        guard exists else { return 0 }
        return Int(try await db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").rows[0][0] ?? "0") ?? 0
    }
}
