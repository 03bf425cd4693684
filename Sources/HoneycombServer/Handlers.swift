import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombLive
import Hummingbird

/// The API's handlers. Each checks what its route's role check cannot (that a user owns the
/// task, that an executor acts as itself) and answers JSON or a problem.
enum Handlers {
    static func claims(_ context: APIContext) throws -> TokenClaims {
        guard let c = context.claims else { throw Problem.unauthorized("this route needs a bearer token") }
        return c
    }

    static func pathID(_ context: APIContext, _ name: String) throws -> Int64 {
        guard let v = context.parameters.get(name), let id = Int64(v), id > 0, id <= Int64(Int32.max) else {
            throw Problem.badRequest("\(name) in the path must be a positive integer")
        }
        return id
    }

    /// The executor of the path, which must be the caller itself.
    static func selfExecutor(_ context: APIContext) throws -> Int64 {
        let id = try pathID(context, "id")
        guard try claims(context).sub == String(id) else {
            throw Problem.forbidden("an executor may act only as itself (this token is executor \(try claims(context).sub))")
        }
        return id
    }

    // MARK: Users and tasks

    static func createUser(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let body = try await API.body(request, as: UserRequest.self)
        try Check.name(body.name, "name")
        guard body.role != .executor else { throw Problem.badRequest("role: executors enroll; a user is admin or user") }
        let ttl = body.ttlSeconds ?? 86400
        try Check.range(ttl, 60...(365 * 86400), "ttlSeconds")
        let claims = TokenClaims(sub: body.name, role: body.role, iat: TokenAuthority.now(), exp: TokenAuthority.now() + ttl)
        _ = try await s.userID(claims)
        await s.audit(actor: try Self.claims(context).sub, action: "user.token", subject: "user/\(body.name)",
                      detail: ["role": body.role.rawValue])
        return try API.json(["name": body.name, "role": body.role.rawValue, "token": try s.authority.issue(claims)], status: .created)
    }

    static func submit(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let body = try await API.body(request, as: TaskRequest.self)
        var (plane, submission) = try await checked(s, body, claims: try claims(context), field: "")
        if let key = try idempotencyKey(request) {
            // A repeat of a submission already stored gets its task back; the key used for
            // another request is refused.
            if let earlier = try await s.db.next().execute(
                "SELECT id, state, request_hash FROM tasks WHERE user_id = $1 AND idempotency_key = $2",
                [String(submission.userID), key]).rows.first {
                guard earlier[2] == submission.requestHash else { throw PlaneRefusal.keyReused(key) }
                return try API.json(["id": JSONValue.number(Double(earlier[0]!)!), "state": .string(earlier[1]!)])
            }
            submission.idempotencyKey = key
        }
        let submitted = try await plane.submit(submission)
        let state = submitted.existing ? await plane.state(of: submitted.id) ?? "queued" : "queued"
        return try API.json(["id": JSONValue.number(Double(submitted.id)), "state": .string(state)],
                            status: submitted.existing ? .ok : .created)
    }

    /// The `Idempotency-Key` header, checked: 1 to 200 printable ASCII characters.
    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.headers.first(where: { $0.name.canonicalName == "idempotency-key" })?.value else { return nil }
        guard (1...200).contains(key.utf8.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x21 && $0.value <= 0x7e }) else {
            throw Problem.badRequest("Idempotency-Key: expected 1 to 200 printable ASCII characters")
        }
        return key
    }

    static func submitBatch(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let body = try await API.body(request, as: TaskBatchRequest.self, limit: 8 << 20)
        try Check.range(body.tasks.count, 1...1000, "tasks (count)")
        let claims = try claims(context)
        var plane: LivePlane?
        var list: [Submission] = []
        for (k, t) in body.tasks.enumerated() {
            let (p, submission) = try await checked(s, t, claims: claims, field: "tasks[\(k)].")
            plane = p
            list.append(submission)
        }
        if let key = try idempotencyKey(request) {
            // The batch's tasks are keyed "KEY #0", "KEY #1", ... (a space: no single key has
            // one, so the two never collide): a repeat gets the same tasks.
            let keys = list.indices.map { "\(key) #\($0)" }
            let found = try await s.db.next().execute("""
                SELECT idempotency_key, id, request_hash FROM tasks WHERE user_id = $1 AND idempotency_key = ANY($2::text[])
                """, [String(list[0].userID), PGArray.of(keys + ["\(key) #\(keys.count)"])]).rows
            if !found.isEmpty {
                let byKey = Dictionary(found.map { ($0[0]!, (id: Int64($0[1]!)!, hash: $0[2])) }, uniquingKeysWith: { a, _ in a })
                guard found.count == keys.count, keys.allSatisfy({ byKey[$0] != nil }) else {
                    throw Problem.conflict("Idempotency-Key \(key) was used for a batch of another size")
                }
                for (k, key) in keys.enumerated() where byKey[key]!.hash != list[k].requestHash {
                    throw PlaneRefusal.keyReused(key)
                }
                return try API.json(["ids": keys.map { byKey[$0]!.id }])
            }
            for k in list.indices { list[k].idempotencyKey = keys[k] }
        }
        let submitted = try await plane!.submit(list)
        return try API.json(["ids": submitted.map(\.id)], status: submitted.allSatisfy(\.existing) ? .ok : .created)
    }

    /// A task request checked field by field (`field` prefixes the names in messages).
    static func checked(_ s: HoneycombService, _ body: TaskRequest, claims: TokenClaims,
                        field: String) async throws -> (LivePlane, Submission) {
        try Check.name(body.agent, field + "agent")
        if let v = body.version { try Check.name(v, field + "version") }
        let priority = body.priority ?? 0
        try Check.range(priority, -128...127, field + "priority")
        if let l = body.latencyTargetMs { try Check.range(l, 1...86_400_000, field + "latencyTargetMs") }
        let input = try (body.input ?? .object([:])).text(field: field + "input")
        let plane = try s.requirePlane()
        guard let version = await plane.agentVersion(named: body.agent, version: body.version) else {
            throw Problem.notFound("\(field)agent: there is no agent \(body.agent)\(body.version.map { " version \($0)" } ?? "")")
        }
        let user = try await s.userID(claims)
        let hash = Encoding.hex(Digest.sha256(Array("\(version)|\(priority)|\(body.latencyTargetMs ?? -1)|\(input)".utf8)))
        return (plane, Submission(agentVersion: version, userID: user, tenant: s.config.plane.tenant(of: claims.sub),
                                  priority: Int8(priority), input: input, latencyTargetMs: body.latencyTargetMs,
                                  requestHash: hash))
    }

    struct TaskView: Codable {
        var id: Int64
        var agent: String
        var version: String
        var user: String
        var state: String
        var attempt: Int
        var executor: Int64?
        var priority: Int
        var latencyTargetMs: Int?
        var submittedAt: String
        var updatedAt: String
        var input: JSONValue?
        var history: [HistoryView]?
        var result: ResultView?
    }

    struct HistoryView: Codable {
        var state: String
        var attempt: Int
        var executor: Int64?
        var at: String
    }

    struct ResultView: Codable {
        var attempt: Int
        var succeeded: Bool
        var output: JSONValue?
        var reportedAt: String
    }

    static let taskColumns = """
        t.id, a.name, v.version, u.name, t.state, t.attempt, t.executor_id, t.priority, t.latency_target_ms,
        to_char(t.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), t.input::text
        FROM tasks t JOIN agent_versions v ON v.id = t.agent_version_id JOIN agents a ON a.id = v.agent_id
        JOIN users u ON u.id = t.user_id
        """

    static func taskView(_ r: [String?]) -> TaskView {
        TaskView(id: Int64(r[0]!)!, agent: r[1]!, version: r[2]!, user: r[3]!, state: r[4]!, attempt: Int(r[5]!)!,
                 executor: r[6].flatMap { Int64($0) }, priority: Int(r[7]!)!, latencyTargetMs: r[8].flatMap { Int($0) },
                 submittedAt: r[9]!, updatedAt: r[10]!,
                 input: try? JSONDecoder().decode(JSONValue.self, from: Data(r[11]!.utf8)))
    }

    /// The task, if the caller may see it (admins see all; users their own). Another user's
    /// task is "not found", so ids reveal nothing.
    static func visibleTask(_ s: HoneycombService, _ id: Int64, _ claims: TokenClaims) async throws -> TaskView {
        let rows = try await s.db.next().execute("SELECT \(taskColumns) WHERE t.id = $1", [String(id)]).rows
        guard let r = rows.first, claims.role == .admin || r[3] == claims.sub else { throw Problem.notFound("there is no task \(id)") }
        return taskView(r)
    }

    static func getTask(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let id = try pathID(context, "id")
        var task = try await visibleTask(s, id, try claims(context))
        let db = s.db.next()
        task.history = try await db.execute("""
            SELECT state, attempt, executor_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            FROM task_status_history WHERE task_id = $1 ORDER BY id
            """, [String(id)]).rows.map { HistoryView(state: $0[0]!, attempt: Int($0[1]!)!, executor: $0[2].flatMap { Int64($0) }, at: $0[3]!) }
        task.result = try await db.execute("""
            SELECT attempt, succeeded, output::text, to_char(reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            FROM task_results WHERE task_id = $1 ORDER BY attempt DESC LIMIT 1
            """, [String(id)]).rows.first.map {
            ResultView(attempt: Int($0[0]!)!, succeeded: $0[1] == "t",
                       output: $0[2].flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }, reportedAt: $0[3]!)
        }
        return try API.json(task)
    }

    static func listTasks(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let claims = try claims(context)
        let q = request.uri.queryParameters
        let limit = try q.get("limit").map { v -> Int in
            guard let n = Int(v), (1...1000).contains(n) else { throw Problem.badRequest("limit: expected 1 to 1000, found \(v)") }
            return n
        } ?? 100
        let after = try q.get("after").map { v -> Int64 in
            guard let n = Int64(v), n >= 0 else { throw Problem.badRequest("after: expected a task id, found \(v)") }
            return n
        } ?? 0
        let state = q.get("state").map { String($0) }
        if let st = state, !TaskState.allCases.map(\.description).contains(st) {
            throw Problem.badRequest("state: expected one of \(TaskState.allCases.dropFirst().map(\.description).joined(separator: ", ")), found \(st)")
        }
        let agent = q.get("agent").map { String($0) }
        let user = claims.role == .admin ? q.get("user").map { String($0) } : claims.sub
        let rows = try await s.db.next().execute("""
            SELECT \(taskColumns) WHERE t.id > $1 AND ($2::text IS NULL OR t.state = $2) AND ($3::text IS NULL OR a.name = $3)
            AND ($4::text IS NULL OR u.name = $4) ORDER BY t.id LIMIT $5
            """, [String(after), state, agent, user, String(limit)]).rows
        let tasks = rows.map(taskView)
        struct Page: Encodable { var tasks: [TaskView]; var next: Int64? }
        return try API.json(Page(tasks: tasks, next: tasks.count == limit ? tasks.last?.id : nil))
    }

    static func cancel(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let id = try pathID(context, "id")
        let claims = try claims(context)
        _ = try await visibleTask(s, id, claims)
        let state = try await s.requirePlane().cancel(task: id, actor: claims.sub)
        return try API.json(["id": JSONValue.number(Double(id)), "state": .string(state)])
    }

    static func explain(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let id = try pathID(context, "id")
        let task = try await visibleTask(s, id, try claims(context))
        guard let e = try await s.requirePlane().explain(task: id) else { throw Problem.notFound("the scheduler holds no task \(id)") }
        struct View: Encodable {
            var state: String
            var executors: Int
            var removedBy: [String: Int]
            var best: [[String: Double]]
            var reason: String?
            var hint: String
        }
        return try API.json(View(state: task.state, executors: e.executors,
                                 removedBy: Dictionary(e.removed.filter { $0.count > 0 }.map { ($0.filter.rawValue, $0.count) },
                                                       uniquingKeysWith: +),
                                 best: e.best.map { ["executor": Double($0.executor.rawValue), "score": $0.score] },
                                 reason: e.reason?.rawValue, hint: e.hint))
    }

    // MARK: Agents and bundles

    static func publish(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let claims = try claims(context)
        guard let name = context.parameters.get("name") else { throw Problem.badRequest("the path names no agent") }
        try Check.name(name, "name")
        // Base64 makes the body a third larger than the bundle.
        let body = try await API.body(request, as: PublishRequest.self, limit: s.config.maxBundleBytes * 4 / 3 + (64 << 10))
        try Check.name(body.version, "version")
        try Check.range(body.cpuMillis, 0...1_000_000, "cpuMillis")
        try Check.range(body.memoryBytes, 0...(1 << 44), "memoryBytes")
        try Check.range(body.maxAttempts ?? 3, 1...100, "maxAttempts")
        for (k, v) in body.labels ?? [:] { try Check.name(k, "labels key"); try Check.name(v, "labels.\(k)") }
        let profile = try (body.profile ?? .object([:])).text(field: "profile")
        guard let bundle = Data(base64Encoded: body.bundle).map(Array.init) else { throw Problem.badRequest("bundle: expected base64") }
        guard bundle.count <= s.config.maxBundleBytes else {
            throw Problem(.contentTooLarge, "Content too large", "bundle: \(bundle.count) bytes, more than \(s.config.maxBundleBytes)")
        }
        guard bundle.starts(with: [0x00, 0x61, 0x73, 0x6d]) else {
            throw Problem.unprocessable("bundle: not a WebAssembly module (it must start with \\0asm)")
        }
        let subject = "agent/\(name)/\(body.version)"
        func refuse(_ why: String) async -> Problem {
            s.metrics.bundlesRefused.add(1)
            await s.audit(actor: claims.sub, action: "bundle.refused", subject: subject, detail: ["reason": why])
            return Problem.unprocessable(why)
        }
        if let why = BundleCheck.failure(of: bundle, publisherKey: body.publisherKey, signature: body.signature) {
            throw await refuse("the bundle was refused: \(why)")
        }
        let plane = try s.requirePlane()
        let conn = try await PostgresConnection(url: s.config.databaseURL)
        let existing = try await conn.execute("SELECT publisher_key FROM agents WHERE name = $1", [name]).rows.first
        if let k = existing?[0], k != body.publisherKey {
            throw await refuse("publisherKey: agent \(name) is published under another key; every version must be signed by it")
        }
        let sha = Encoding.hex(Digest.sha256(bundle))
        let key3 = "agents/\(name)/\(body.version)/\(sha).wasm"
        try await s.s3.put(bucket: s.config.bucket, key: key3, data: bundle, contentType: "application/wasm")
        let user = try await s.userID(claims)
        let row: StoredAgent
        do {
            row = try await conn.transaction { tx in
                let agentRow = try await tx.execute("""
                    INSERT INTO agents (name, owner_id, description, publisher_key) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (name) DO UPDATE SET description = CASE WHEN $3 = '' THEN agents.description ELSE $3 END
                    RETURNING id, publisher_key
                    """, [name, String(user), body.description ?? "", body.publisherKey]).rows[0]
                // Checked again here: another first version may have won the race meanwhile.
                guard agentRow[1] == body.publisherKey else { throw KeyMismatch() }
                let agent = agentRow[0]!
                let labels = String(decoding: try JSONEncoder().encode(body.labels ?? [:]), as: UTF8.self)
                let id = try await tx.execute("""
                    INSERT INTO agent_versions (agent_id, version, cpu_millis, memory_bytes, labels, max_attempts, bundle_key,
                                                bundle_sha256, signature, bundle_size, profile)
                    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10, $11::jsonb) RETURNING id
                    """, [agent, body.version, String(body.cpuMillis), String(body.memoryBytes), labels,
                          String(body.maxAttempts ?? 3), key3, sha, body.signature.lowercased(), String(bundle.count), profile]).rows[0][0]!
                try await tx.execute("INSERT INTO audit_log (actor, action, subject, detail) VALUES ($1, 'agent.published', $2, $3::jsonb)",
                                     [claims.sub, subject, #"{"sha256":"\#(sha)"}"#])
                return try StoredAgent(row: try await tx.execute("""
                    SELECT \(StoredAgent.columns) FROM agent_versions v JOIN agents a ON a.id = v.agent_id WHERE v.id = $1
                    """, [id]).rows[0])
            }
        } catch let e as PostgresError where e.sqlState == "23505" {
            throw Problem.conflict("agent \(name) version \(body.version) exists; versions are immutable, publish another")
        } catch is KeyMismatch {
            throw await refuse("publisherKey: agent \(name) is published under another key; every version must be signed by it")
        }
        // Stored now: a plane that cannot take it at once (its store failed) rebuilds from the store, which holds it.
        try? await plane.published(row)
        return try API.json(["agent": name, "version": body.version, "sha256": sha], status: .created)
    }

    struct KeyMismatch: Error {}

    static func marketplace(_ s: HoneycombService) async throws -> Response {
        let rows = try await s.db.next().execute("""
            SELECT a.name, a.description, v.version, v.bundle_sha256, v.bundle_size, v.cpu_millis, v.memory_bytes,
                   to_char(v.published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM agents a JOIN agent_versions v ON v.agent_id = a.id ORDER BY a.name, v.id
            """).rows
        struct Version: Encodable { var version, sha256, publishedAt: String; var bundleBytes, cpuMillis, memoryBytes: Int64 }
        struct Agent: Encodable { var name, description: String; var versions: [Version] }
        var agents: [Agent] = []
        for r in rows {
            let v = Version(version: r[2]!, sha256: r[3]!, publishedAt: r[7]!, bundleBytes: Int64(r[4]!)!,
                            cpuMillis: Int64(r[5]!)!, memoryBytes: Int64(r[6]!)!)
            if agents.last?.name == r[0]! { agents[agents.count - 1].versions.append(v) }
            else { agents.append(Agent(name: r[0]!, description: r[1]!, versions: [v])) }
        }
        return try API.json(["agents": agents])
    }

    /// The bundle, re-verified against its recorded digest and signature before it is offered.
    static func bundle(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let claims = try claims(context)
        guard let name = context.parameters.get("name"), let version = context.parameters.get("version") else {
            throw Problem.badRequest("the path names no agent version")
        }
        let rows = try await s.db.next().execute("""
            SELECT \(StoredAgent.columns) FROM agent_versions v JOIN agents a ON a.id = v.agent_id WHERE a.name = $1 AND v.version = $2
            """, [name, version]).rows
        guard let r = rows.first else { throw Problem.notFound("there is no agent \(name) version \(version)") }
        let row = try StoredAgent(row: r)
        guard let bytes = try await s.s3.get(bucket: s.config.bucket, key: row.bundleKey) else {
            throw Problem(.badGateway, "Bundle missing", "the bundle of \(name) \(version) is missing from storage")
        }
        if let why = BundleCheck.failure(of: bytes, publisherKey: row.publisherKey, signature: row.signature,
                                         sha256: row.bundleSHA256) {
            s.metrics.bundlesRefused.add(1)
            await s.audit(actor: claims.sub, action: "bundle.refused", subject: "agent/\(name)/\(version)", detail: ["reason": why])
            throw Problem(.conflict, "Bundle refused", "the stored bundle of \(name) \(version) was refused: \(why)")
        }
        return Response(status: .ok, headers: [.contentType: "application/wasm"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func route(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let claims = try claims(context)
        let body = try await API.body(request, as: LLMRouteBody.self)
        if claims.role == .executor && claims.sub != String(body.executor) {
            throw Problem.forbidden("an executor may ask only for calls of its own (executor \(claims.sub))")
        }
        try Check.range(body.promptTokens, 0...10_000_000, "promptTokens")
        try Check.range(body.maxCompletionTokens, 1...10_000_000, "maxCompletionTokens")
        try Check.range(body.latencyTargetMs, 1...3_600_000, "latencyTargetMs")
        try Check.range(body.executor, 1...Int64(Int32.max), "executor")
        // An executor's question reserves capacity until it reports the call's end; a user's
        // is advice and reserves nothing.
        let plane = try s.requirePlane()
        let d = claims.role == .executor ? try await plane.route(body) : try await plane.advise(body)
        let models = s.config.plane.llm.models
        var out: [String: JSONValue] = ["reason": .string(d.reason.rawValue), "model": .string(models[d.model.index].name),
                                        "predictedLatencyMs": .number(d.predictedLatency.seconds * 1000),
                                        "reservedUSD": .number(Double(d.reservedMicroUSD) / 1e6)]
        switch d.target {
        case .local(let e): out["target"] = .string("local"); out["executor"] = .number(Double(e.rawValue))
        case .peer(let e): out["target"] = .string("peer"); out["executor"] = .number(Double(e.rawValue))
        case .cloud(let p): out["target"] = .string("cloud"); out["provider"] = .string(s.config.plane.llm.providers[p.index].name)
        case .rejected: out["target"] = .string("rejected")
        }
        if claims.role == .executor && d.target != .rejected { out["call"] = .number(Double(d.request)) }
        return try API.json(out)
    }

    static func completeCall(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let executor = try Int64(claims(context).sub) ?? 0
        let call = try pathID(context, "call")
        let body = try await API.body(request, as: LLMCompletion.self)
        let outcome: LLMOutcome
        if body.succeeded {
            try Check.range(body.inputTokens ?? 0, 0...100_000_000, "inputTokens")
            try Check.range(body.outputTokens ?? 0, 0...100_000_000, "outputTokens")
            outcome = .succeeded(inputTokens: body.inputTokens ?? 0, outputTokens: body.outputTokens ?? 0)
        } else {
            try Check.range(body.retryAfterMs ?? 0, 0...86_400_000, "retryAfterMs")
            outcome = .failed(retryAfter: body.retryAfterMs.map { .milliseconds(Int64($0)) })
        }
        let cost = try await s.requirePlane().complete(call: call, executor: executor, outcome)
        return try API.json(["call": JSONValue.number(Double(call)), "costUSD": .number(Double(cost) / 1e6)])
    }

    // MARK: Executors

    static func enrollmentToken(_ s: HoneycombService, _ context: APIContext) async throws -> Response {
        let token = "hce_" + Encoding.base64url(Digest.randomBytes(32))
        let hash = Encoding.hex(Digest.sha256(Array(token.utf8)))
        let expires = try await s.db.next().execute("""
            INSERT INTO enrollment_tokens (token_hash, created_by, expires_at) VALUES ($1, $2, now() + interval '1 hour')
            RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            """, [hash, try claims(context).sub]).rows[0][0]!
        return try API.json(["token": token, "expiresAt": expires], status: .created)
    }

    static func enroll(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let body = try await API.body(request, as: EnrollRequest.self)
        try Check.name(body.name, "name")
        let hash = Encoding.hex(Digest.sha256(Array(body.enrollmentToken.utf8)))
        // A token that cannot work is refused from the pool, before a connection of its own
        // is opened for the transaction: this route is open to anyone.
        let usable = try await s.db.next().execute(
            "SELECT 1 FROM enrollment_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()", [hash]).rows
        guard !usable.isEmpty else {
            s.metrics.tokensRefused.add(1)
            throw Problem.unauthorized("the enrollment token is unknown, used already, or expired")
        }
        let conn = try await PostgresConnection(url: s.config.databaseURL)
        let taken = try await s.db.next().execute("SELECT 1 FROM executors WHERE name = $1", [body.name]).rows
        guard taken.isEmpty else {
            throw Problem.conflict("an executor named \(body.name) is enrolled already; enroll under another name")
        }
        let id: Int64?
        do {
          id = try await conn.transaction { tx in
            let claimed = try await tx.execute("""
                UPDATE enrollment_tokens SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
                RETURNING created_by
                """, [hash]).rows
            guard !claimed.isEmpty else { return nil }
            let id = try await tx.execute("""
                INSERT INTO executors (name, cpu_millis, memory_bytes, slots, state) VALUES ($1, 0, 0, 1, 'enrolled') RETURNING id
                """, [body.name]).rows[0][0]!
            try await tx.execute("UPDATE enrollment_tokens SET executor_id = $1 WHERE token_hash = $2", [id, hash])
            try await tx.execute("INSERT INTO audit_log (actor, action, subject) VALUES ($1, 'executor.enrolled', $2)",
                                 ["enrollment", "executor/\(id)"])
            return Int64(id)
          }
        } catch let e as PostgresError where e.sqlState == "23505" {
            throw Problem.conflict("an executor named \(body.name) is enrolled already; enroll under another name")
        }
        guard let id else {
            s.metrics.tokensRefused.add(1)
            throw Problem.unauthorized("the enrollment token is unknown, used already, or expired")
        }
        let token = try s.authority.issue(subject: String(id), role: .executor, ttl: s.config.executorTokenTTL)
        return try API.json(["id": JSONValue.number(Double(id)), "token": .string(token),
                             "stream": .string(s.channel.stream), "subject": .string(s.channel.subject(executor: id))],
                            status: .created)
    }

    static func listExecutors(_ s: HoneycombService) async throws -> Response {
        let rows = try await s.db.next().execute("""
            SELECT id, name, state, labels::text, cpu_millis, memory_bytes, slots FROM executors ORDER BY id
            """).rows
        let present = Set(try await s.presence.present())
        let plane = s.plane
        struct View: Encodable {
            var id: Int64; var name: String; var state: String; var present: Bool
            var labels: [String: String]; var cpuMillis, memoryBytes, slots: Int64
            var usedSlots: Int64?; var tasks: Int?
        }
        var out: [View] = []
        for r in rows {
            let id = Int64(r[0]!)!
            let view = await plane?.executorView(id)
            out.append(View(id: id, name: r[1]!, state: view?.state ?? r[2]!, present: present.contains(id),
                            labels: (try? JSONDecoder().decode([String: String].self, from: Data(r[3]!.utf8))) ?? [:],
                            cpuMillis: Int64(r[4]!)!, memoryBytes: Int64(r[5]!)!, slots: Int64(r[6]!)!,
                            usedSlots: view?.used.slots, tasks: view?.tasks))
        }
        return try API.json(["executors": out])
    }

    static func register(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let id = try selfExecutor(context)
        let body = try await API.body(request, as: ExecutorSpecBody.self)
        try Check.range(body.slots, 1...100_000, "slots")
        try Check.range(body.cpuMillis, 0...100_000_000, "cpuMillis")
        try Check.range(body.memoryBytes, 0...(1 << 50), "memoryBytes")
        for (k, v) in body.labels { try Check.name(k, "labels key"); try Check.name(v, "labels.\(k)") }
        for (k, m) in (body.localModels ?? []).enumerated() {
            try Check.range(m.slots, 1...10_000, "localModels[\(k)].slots")
            try Check.range(m.tokensPerSecond, 0.001...1e9, "localModels[\(k)].tokensPerSecond")
        }
        let plane = try s.requirePlane()
        let labels = String(decoding: try JSONEncoder().encode(body.labels), as: UTF8.self)
        let models = String(decoding: try JSONEncoder().encode(body.localModels ?? []), as: UTF8.self)
        try await s.db.next().execute("""
            UPDATE executors SET labels = $2::jsonb, cpu_millis = $3, memory_bytes = $4, slots = $5, local_models = $6::jsonb,
                   last_seen_at = now() WHERE id = $1
            """, [String(id), labels, String(body.cpuMillis), String(body.memoryBytes), String(body.slots), models])
        try await plane.register(executor: id, body)
        return try API.json(["id": id])
    }

    static func heartbeat(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let id = try selfExecutor(context)
        let reregister = try await s.requirePlane().heartbeat(executor: id)
        return try API.json(["reregister": reregister])
    }

    static func drain(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let id = try pathID(context, "id")
        let plane = try s.requirePlane()
        guard await plane.executorView(id) != nil else { throw Problem.notFound("executor \(id) is not registered") }
        try await plane.drain(executor: id, actor: try claims(context).sub)
        return try API.json(["id": JSONValue.number(Double(id)), "state": .string(await plane.executorView(id)?.state ?? "unknown")])
    }

    static func reports(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let executor = try selfExecutor(context)
        let body = try await API.body(request, as: ReportsRequest.self, limit: 8 << 20)
        try Check.range(body.reports.count, 1...1000, "reports (count)")
        var items: [ReportItem] = []
        for (k, r) in body.reports.enumerated() {
            try Check.range(r.attempt, 1...Int(UInt16.max), "reports[\(k)].attempt")
            switch r.kind {
            case "start": items.append(ReportItem(task: r.task, attempt: r.attempt, report: .started))
            case "result":
                guard let ok = r.succeeded else { throw Problem.badRequest("reports[\(k)].succeeded: required for a result") }
                let output = try r.output.map { try $0.text(field: "reports[\(k)].output") }
                items.append(ReportItem(task: r.task, attempt: r.attempt, report: ok ? .succeeded(output: output) : .failed(output: output)))
            default:
                throw Problem.badRequest("reports[\(k)].kind: expected start or result, found \(r.kind)")
            }
        }
        return try API.json(["accepted": try await s.requirePlane().report(items, executor: executor)])
    }

    static func report(_ s: HoneycombService, _ request: Request, _ context: APIContext, kind: String) async throws -> Response {
        let executor = try selfExecutor(context)
        let task = try pathID(context, "task")
        let attempt = try pathID(context, "attempt")
        try Check.range(attempt, 1...Int64(UInt16.max), "attempt")
        let plane = try s.requirePlane()
        switch kind {
        case "start":
            let run = try await plane.report(task: task, attempt: Int(attempt), executor: executor, .started)
            return try API.json(["run": run])
        case "progress":
            let body = try await API.body(request, as: ProgressRequest.self)
            try Check.range(body.fraction, 0...1, "fraction")
            return try API.json(["continue": await plane.isCurrent(task: task, attempt: Int(attempt), executor: executor)])
        default:
            let body = try await API.body(request, as: ResultRequest.self)
            let output = try body.output.map { try $0.text(field: "output") }
            let accepted = try await plane.report(task: task, attempt: Int(attempt), executor: executor,
                                                  body.succeeded ? .succeeded(output: output) : .failed(output: output))
            return try API.json(["accepted": accepted])
        }
    }
}
