import HoneycombCore
import HoneycombDriver

/// The API's contract: the schema of every body, parameter and answer, by name. The OpenAPI
/// document is rendered from these and the server checks requests against the same values
/// (`API.body`, `APIContext.path`, `APIContext.query`), so the two cannot drift apart.
enum Contract {
    typealias S = Schema

    /// Names of agents, versions, users, executors and labels: a letter or digit, then up to
    /// 127 letters, digits, '-', '_' or '.'.
    static let name = S.string(min: 1, max: 128, pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$")
    /// Ids of tasks, executors and LLM calls: the plane's 32-bit dense ids.
    static let id = S.integer(min: 1, max: Int64(Int32.max))
    static let attempt = S.integer(min: 1, max: Int64(UInt16.max))
    static let labels = S.object([], others: name, keys: name)
    static let taskState = S.string(values: TaskState.allCases.dropFirst().map(\.description))
    static let timestamp = S.string(format: "date-time")
    static let hex = S.string(pattern: "^[0-9a-f]+$")
    static let idempotencyKey = S.string(min: 1, max: 200, pattern: "^[!-~]+$")

    /// Path parameters, by name.
    static let path: [String: Schema] = [
        "id": id, "task": id, "call": id, "attempt": attempt, "name": name, "version": name,
    ]

    /// An example of requests and answers, by component: shown in the document
    /// (`examples`), tried by the contract test's examples phase, and each checked against its
    /// own schema (`ContractDocumentTests`).
    static let examples: [String: String] = [
        "UserRequest": #"{"name": "alice", "role": "user", "ttlSeconds": 86400}"#,
        "TaskRequest": #"{"agent": "echo", "input": {"text": "hello"}, "priority": 5, "latencyTargetMs": 2000}"#,
        "TaskBatchRequest": #"{"tasks": [{"agent": "echo"}, {"agent": "echo", "version": "1", "input": {"n": 2}}]}"#,
        "ReportsRequest": #"{"reports": [{"task": 42, "attempt": 1, "kind": "start"}, "#
            + #"{"task": 41, "attempt": 2, "kind": "result", "succeeded": true, "output": {"text": "done"}}]}"#,
        "LLMRouteBody": #"{"executor": 7, "model": "llama-8b", "promptTokens": 500, "maxCompletionTokens": 200, "latencyTargetMs": 2000}"#,
        "LLMCompletion": #"{"succeeded": true, "inputTokens": 500, "outputTokens": 120}"#,
        "EnrollRequest": #"{"enrollmentToken": "hce_2q9Yl0GvVf8p", "name": "edge-7"}"#,
        "ExecutorSpecBody": #"{"labels": {"zone": "eu-1"}, "cpuMillis": 8000, "memoryBytes": 17179869184, "slots": 8, "#
            + #""localModels": [{"model": "llama-8b", "slots": 2, "tokensPerSecond": 40}]}"#,
        // A real signature: the smallest module (\0asm, version 1) signed by the Ed25519 key whose
        // seed is the bytes 0...31. `honeycomb agents publish` makes these from a key file.
        "PublishRequest": #"{"version": "1", "description": "Says it back", "cpuMillis": 100, "memoryBytes": 67108864, "#
            + #""labels": {"zone": "eu-1"}, "maxAttempts": 3, "profile": {"runtimeMs": 30}, "bundle": "AGFzbQEAAAA=", "#
            + #""signature": "7c15260dd888ae5fcd379017ad1bb44b73b28bafdd09c4b5f6cf568fc4f64822a8bda4d5a939ec1e3878b5099e3650d8"#
            + #"13258570c98caf6aa0d55f4abb443605", "publisherKey": "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"}"#,
        "ProgressRequest": #"{"fraction": 0.5}"#,
        "ResultRequest": #"{"succeeded": true, "output": {"text": "done"}}"#,
        "Submitted": #"{"id": 42, "state": "queued"}"#,
        "BatchSubmitted": #"{"ids": [42, 43]}"#,
        "Problem": #"{"type": "https://honeycomb.hivefabric.dev/problems/bad-request", "title": "Bad request", "status": 400, "#
            + #""detail": "at priority: expected an integer in -128...127, found 300", "instance": "/v1/tasks"}"#,
        "Task": #"{"id": 42, "agent": "echo", "version": "1", "user": "alice", "state": "succeeded", "attempt": 1, "executor": 7, "#
            + #""priority": 5, "submittedAt": "2026-12-03T10:00:00Z", "updatedAt": "2026-12-03T10:00:01Z", "input": {"text": "hello"}, "#
            + #""history": [{"state": "submitted", "attempt": 0, "at": "2026-12-03T10:00:00Z"}, "#
            + #"{"state": "running", "attempt": 1, "executor": 7, "at": "2026-12-03T10:00:00Z"}, "#
            + #"{"state": "succeeded", "attempt": 1, "executor": 7, "at": "2026-12-03T10:00:01Z"}], "#
            + #""result": {"attempt": 1, "succeeded": true, "output": {"text": "done"}, "reportedAt": "2026-12-03T10:00:01Z"}}"#,
        "Route": #"{"target": "local", "reason": "local", "model": "llama-8b", "predictedLatencyMs": 850, "reservedUSD": 0, "#
            + #""executor": 7, "call": 3}"#,
        "Heartbeat": #"{"reregister": false}"#,
    ]

    /// The request bodies and answers of the components section.
    static func components(maxBundleBytes: Int) -> [String: Schema] {
        // Its size is bounded by the body's (413 beyond), not by a maxLength here: a schema
        // generator cannot draw strings of millions of characters.
        let base64Bundle = S.string(pattern: "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
        let task = S.object([
            .required("agent", name.described("The agent's name")),
            .field("version", name.described("The agent's version; the latest when left out")),
            .field("input", .json),
            .field("priority", S.integer(min: -128, max: 127).described("Higher runs first; 0 when left out")),
            .field("latencyTargetMs", S.integer(min: 1, max: 86_400_000)),
        ])
        let report = { (kind: String, result: Bool) -> Schema in
            S.object([
                // Any task id: a report of a task the plane does not hold is answered "not taken"
                // for itself, and spoils none of the batch's others.
                .required("task", S.integer(min: 1)), .required("attempt", attempt), .required("kind", S.string(values: [kind])),
            ] + (result ? [.required("succeeded", .boolean), .field("output", .json)] : []))
        }
        // What a history row records: a state, or what happened to an attempt.
        let historyState = S.string(values: LivePlane.historyStates)
        let history = S.object([.required("state", historyState), .required("attempt", S.integer(min: 0)),
                                .field("executor", id), .required("at", timestamp)])
        let result = S.object([.required("attempt", S.integer(min: 0)), .required("succeeded", .boolean),
                               .field("output", .json), .required("reportedAt", timestamp)])
        let ready = S.string(values: ["ok", "unreachable", "no bucket"])
        return [
            // Requests.
            "UserRequest": .object([
                .required("name", name),
                .required("role", S.string(values: ["admin", "user"]).described("Executors enroll instead")),
                .field("ttlSeconds", S.integer(min: 60, max: 365 * 86400).described("The token's lifetime; a day when left out")),
            ]),
            "TaskRequest": task,
            "TaskBatchRequest": .object([.required("tasks", S.array(.named("TaskRequest"), min: 1, max: 1000))]),
            "PublishRequest": .object([
                .required("version", name),
                .field("description", S.string(max: 4096)),
                .required("cpuMillis", S.integer(min: 0, max: 1_000_000)),
                .required("memoryBytes", S.integer(min: 0, max: 1 << 44)),
                .field("labels", labels),
                .field("maxAttempts", S.integer(min: 1, max: 100)),
                .field("profile", .json),
                .required("bundle", base64Bundle.described("The WASM module, base64, at most \(maxBundleBytes) bytes decoded (413 beyond); "
                                                          + "it must start with \\0asm")),
                .required("signature", S.string(min: 128, max: 128, pattern: "^[0-9a-f]*$")
                    .described("The Ed25519 signature of the bundle's bytes, hex")),
                .required("publisherKey", S.string(min: 64, max: 64, pattern: "^[0-9a-f]*$")
                    .described("The publisher's Ed25519 public key, hex; every version of an agent is signed by one key")),
            ]),
            "ReportsRequest": .object([.required("reports", S.array(.tagged("kind", [("start", report("start", false)),
                                                                                    ("result", report("result", true))]),
                                                                 min: 1, max: 1000))]),
            "LLMRouteBody": .object([
                .required("executor", id), .required("model", name),
                .required("promptTokens", S.integer(min: 0, max: 10_000_000)),
                .required("maxCompletionTokens", S.integer(min: 1, max: 10_000_000)),
                .field("expectedCompletionTokens", S.integer(min: 0, max: 10_000_000)),
                .required("latencyTargetMs", S.integer(min: 1, max: 3_600_000)),
                .field("localOnly", .boolean), .field("allowSmallerModel", .boolean),
            ]),
            "LLMCompletion": .object([
                .required("succeeded", .boolean),
                .field("inputTokens", S.integer(min: 0, max: 100_000_000)),
                .field("outputTokens", S.integer(min: 0, max: 100_000_000)),
                .field("retryAfterMs", S.integer(min: 0, max: 86_400_000).described("A refusal's Retry-After")),
            ]),
            "EnrollRequest": .object([.required("enrollmentToken", S.string(min: 1, max: 200)), .required("name", name)]),
            "ExecutorSpecBody": .object([
                .required("labels", labels),
                .required("cpuMillis", S.integer(min: 0, max: 100_000_000)),
                .required("memoryBytes", S.integer(min: 0, max: 1 << 50)),
                .required("slots", S.integer(min: 1, max: 100_000)),
                .field("localModels", S.array(.object([
                    .required("model", name), .required("slots", S.integer(min: 1, max: 10_000)),
                    .required("tokensPerSecond", S.number(min: 0.001, max: 1e9)),
                    .field("queueLimit", S.integer(min: 0, max: 1_000_000)),
                ]), max: 64)),
            ]),
            "ProgressRequest": .object([.required("fraction", S.number(min: 0, max: 1))]),
            "ResultRequest": .object([.required("succeeded", .boolean), .field("output", .json)]),

            // Answers.
            "Problem": .object([
                .required("type", .string()), .required("title", .string()), .required("status", S.integer(min: 100, max: 599)),
                .required("detail", .string()), .required("instance", .string()),
            ]),
            "Health": .object([.required("status", S.string(values: ["ok"]))]),
            "Readiness": .object([
                .required("postgres", ready), .required("redis", ready), .required("nats", ready), .required("s3", ready),
                .required("scheduler", S.string(values: ["active", "standby"])),
            ]),
            "OpenAPIDocument": .object([], others: .json),
            "UserToken": .object([.required("name", name), .required("role", S.string(values: ["admin", "user"])),
                                  .required("token", .string())]),
            "Submitted": .object([.required("id", id), .required("state", taskState)]),
            "BatchSubmitted": .object([.required("ids", S.array(id, min: 1, max: 1000))]),
            "Task": .object([
                .required("id", id), .required("agent", name), .required("version", name), .required("user", .string()),
                .required("state", taskState), .required("attempt", S.integer(min: 0)), .field("executor", id),
                .required("priority", S.integer(min: -128, max: 127)), .field("latencyTargetMs", S.integer(min: 1)),
                .required("submittedAt", timestamp), .required("updatedAt", timestamp), .field("input", .json),
                .field("history", S.array(history)), .field("result", result),
            ]),
            "TaskPage": .object([.required("tasks", S.array(.named("Task"))),
                                 .field("next", S.integer(min: 1).described("Pass as `after` for the next page"))]),
            "TaskState": .object([.required("id", id), .required("state", taskState)]),
            "Explanation": .object([
                .required("state", taskState), .required("executors", S.integer(min: 0)),
                .required("removedBy", S.object([], others: S.integer(min: 0),
                                                 keys: S.string(values: PlacementFilter.allCases.map(\.rawValue)))),
                .required("best", S.array(.object([.required("executor", S.integer(min: 0)), .required("score", .number())]))),
                .field("reason", .string()), .required("hint", .string()),
            ]),
            "Published": .object([.required("agent", name), .required("version", name), .required("sha256", hex)]),
            "Marketplace": .object([.required("agents", S.array(.object([
                .required("name", name), .required("description", .string()),
                .required("versions", S.array(.object([
                    .required("version", name), .required("sha256", hex), .required("publishedAt", timestamp),
                    .required("bundleBytes", S.integer(min: 0)), .required("cpuMillis", S.integer(min: 0)),
                    .required("memoryBytes", S.integer(min: 0)),
                ]))),
            ])))]),
            "Route": .object([
                .required("target", S.string(values: ["local", "peer", "cloud", "rejected"])),
                .required("reason", .string()), .required("model", .string()),
                .required("predictedLatencyMs", S.number(min: 0)), .required("reservedUSD", S.number(min: 0)),
                .field("executor", id), .field("provider", .string()),
                .field("call", id.described("Given to an executor: end the call with POST /v1/llm/calls/{call}/complete")),
            ]),
            "CallCost": .object([.required("call", id), .required("costUSD", S.number(min: 0))]),
            "EnrollmentToken": .object([.required("token", .string()), .required("expiresAt", timestamp)]),
            "Enrolled": .object([.required("id", id), .required("token", .string()), .required("stream", .string()),
                                 .required("subject", .string())]),
            "Executors": .object([.required("executors", S.array(.object([
                .required("id", id), .required("name", name), .required("state", .string()), .required("present", .boolean),
                .required("labels", labels), .required("cpuMillis", S.integer(min: 0)), .required("memoryBytes", S.integer(min: 0)),
                .required("slots", S.integer(min: 0)), .field("usedSlots", S.integer(min: 0)), .field("tasks", S.integer(min: 0)),
            ]))), .field("next", S.integer(min: 1).described("Pass as `after` for the next page"))]),
            "Registered": .object([.required("id", id)]),
            "Heartbeat": .object([.required("reregister", S.boolean.described("True when the plane wants the executor to register again"))]),
            "ExecutorState": .object([.required("id", id), .required("state", .string())]),
            "ReportsAccepted": .object([.required("accepted", S.array(.boolean).described("One per report, in order"))]),
            "StartAnswer": .object([.required("run", S.boolean.described("False: the attempt is not this executor's; drop it"))]),
            "ProgressAnswer": .object([.required("continue", .boolean)]),
            "ResultAnswer": .object([.required("accepted", .boolean)]),
        ]
    }
}
