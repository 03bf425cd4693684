import HoneycombCore

/// Why the live plane refused a command. The message is safe to show to a client.
package enum PlaneRefusal: Error, CustomStringConvertible, Equatable {
    case unknownTask(Int64)
    case notYours
    case unknownAgent(String)
    case unknownModel(String)
    case unknownExecutor(Int64)
    case unknownCall(Int64)
    case keyReused(String)
    /// A batch's key used before for a batch of another size.
    case keyReusedForBatch(String)
    /// The store did not confirm the write: it failed, or it landed and its reply was lost.
    case storeUnavailable
    /// The bus has been away so long that this many dispatches wait: new tasks are refused
    /// until it is back.
    case dispatchUnavailable(waiting: Int)
    case stopped

    package var description: String {
        switch self {
        case .unknownTask(let id): "there is no task \(id)"
        case .notYours: "that is not yours"
        case .unknownAgent(let what): "there is no agent \(what)"
        case .unknownModel(let name): "the router knows no model \"\(name)\""
        case .unknownExecutor(let id): "executor \(id) is not registered"
        case .unknownCall(let id): "there is no open LLM call \(id) of this executor"
        case .keyReused(let key): "Idempotency-Key \(key) was used before for a different request"
        case .keyReusedForBatch(let key): "Idempotency-Key \(key) was used before for a batch of another size"
        case .storeUnavailable: "the state store did not confirm the change (it may have been applied): retry; a submission retried with "
            + "its Idempotency-Key is applied once"
        case .dispatchUnavailable(let n): "task dispatch (NATS JetStream) is unavailable and \(n) dispatches wait for it: "
            + "no new task is taken until it is back; retry later"
        case .stopped: "this replica is not the active scheduler"
        }
    }
}

/// A task to submit.
package struct Submission: Sendable {
    package var agentVersion: Int64
    package var userID: Int64
    package var tenant: TenantID
    package var priority: Int8
    package var input: String
    package var latencyTargetMs: Int?
    /// The client's key for this submission: the same key again (from the same user) gets the
    /// same task, not a second one.
    package var idempotencyKey: String?
    /// What the request asked for, hashed: a key used again for another request is refused.
    package var requestHash: String

    package init(agentVersion: Int64, userID: Int64, tenant: TenantID, priority: Int8, input: String,
                 latencyTargetMs: Int?, idempotencyKey: String? = nil, requestHash: String) {
        self.agentVersion = agentVersion
        self.userID = userID
        self.tenant = tenant
        self.priority = priority
        self.input = input
        self.latencyTargetMs = latencyTargetMs
        self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash
    }
}

/// A submission's task, whether it existed already (an idempotent repeat), and its state.
package struct Submitted: Sendable, Equatable {
    package var id: Int64
    package var existing: Bool
    package var state: String
    package init(id: Int64, existing: Bool, state: String = "queued") {
        self.id = id
        self.existing = existing
        self.state = state
    }
}

/// What an executor reports of a task attempt.
package enum AttemptReport: Sendable {
    case started
    case succeeded(output: String?)
    case failed(output: String?)
}

/// One report of an executor about one attempt.
package struct ReportItem: Sendable {
    package var task: Int64
    package var attempt: Int
    package var report: AttemptReport
    package init(task: Int64, attempt: Int, report: AttemptReport) {
        self.task = task
        self.attempt = attempt
        self.report = report
    }
}

/// A question for the LLM router.
package struct LLMRouteBody: Codable, Sendable {
    /// The executor the call starts from.
    package var executor: Int64
    package var model: String
    package var promptTokens: Int
    package var maxCompletionTokens: Int
    package var expectedCompletionTokens: Int?
    package var latencyTargetMs: Int
    package var localOnly: Bool?
    package var allowSmallerModel: Bool?

    package init(executor: Int64, model: String, promptTokens: Int, maxCompletionTokens: Int,
                 expectedCompletionTokens: Int? = nil, latencyTargetMs: Int, localOnly: Bool? = nil,
                 allowSmallerModel: Bool? = nil) {
        self.executor = executor
        self.model = model
        self.promptTokens = promptTokens
        self.maxCompletionTokens = maxCompletionTokens
        self.expectedCompletionTokens = expectedCompletionTokens
        self.latencyTargetMs = latencyTargetMs
        self.localOnly = localOnly
        self.allowSmallerModel = allowSmallerModel
    }

    /// The router's request, or nil when the router knows no such model.
    package func request(id: Int64, models: [LLMModel]) -> LLMRequest? {
        guard let k = models.firstIndex(where: { $0.name == model }) else { return nil }
        return LLMRequest(id: id, origin: ExecutorID(Int32(truncatingIfNeeded: executor)), model: ModelID(Int32(k)),
                          promptTokens: promptTokens, maxCompletionTokens: maxCompletionTokens,
                          expectedCompletionTokens: expectedCompletionTokens, latencyTarget: .milliseconds(Int64(latencyTargetMs)),
                          localOnly: localOnly ?? false, allowSmallerModel: allowSmallerModel ?? false)
    }
}

/// One agent version as the store keeps it.
package struct StoredAgent: Sendable {
    package var id: Int64
    package var name: String
    package var version: String
    package var cpuMillis: Int64
    package var memoryBytes: Int64
    package var labels: [String: String]
    package var maxAttempts: Int
    package var bundleKey: String
    package var bundleSHA256: String
    package var signature: String
    package var publisherKey: String
    package var profile: String

    package init(id: Int64, name: String, version: String, cpuMillis: Int64, memoryBytes: Int64, labels: [String: String],
                 maxAttempts: Int, bundleKey: String, bundleSHA256: String, signature: String, publisherKey: String,
                 profile: String) {
        self.id = id
        self.name = name
        self.version = version
        self.cpuMillis = cpuMillis
        self.memoryBytes = memoryBytes
        self.labels = labels
        self.maxAttempts = maxAttempts
        self.bundleKey = bundleKey
        self.bundleSHA256 = bundleSHA256
        self.signature = signature
        self.publisherKey = publisherKey
        self.profile = profile
    }

    /// The plane's definition of it.
    package var definition: AgentDefinition {
        AgentDefinition(name: name, version: version,
                        requires: Resources(cpuMillis: cpuMillis, memoryBytes: memoryBytes, slots: 1),
                        selector: LabelSelector(exactly: LabelSet(labels.map { Label($0.key, $0.value) })),
                        maxAttempts: maxAttempts)
    }
}

/// What an executor reports of itself (JSON on the API, JSONB in the store).
package struct ExecutorSpecBody: Codable, Sendable, Equatable {
    package var labels: [String: String]
    package var cpuMillis: Int64
    package var memoryBytes: Int64
    package var slots: Int64
    package var localModels: [LocalModelBody]?

    package struct LocalModelBody: Codable, Sendable, Equatable {
        package var model: String
        package var slots: Int
        package var tokensPerSecond: Double
        package var queueLimit: Int?
        package init(model: String, slots: Int, tokensPerSecond: Double, queueLimit: Int? = nil) {
            self.model = model
            self.slots = slots
            self.tokensPerSecond = tokensPerSecond
            self.queueLimit = queueLimit
        }
    }

    package init(labels: [String: String], cpuMillis: Int64, memoryBytes: Int64, slots: Int64,
                 localModels: [LocalModelBody]? = nil) {
        self.labels = labels
        self.cpuMillis = cpuMillis
        self.memoryBytes = memoryBytes
        self.slots = slots
        self.localModels = localModels
    }

    /// The core's spec; models the router does not know are ignored.
    package func spec(models: [LLMModel]) -> ExecutorSpec {
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

/// An executor as the store keeps it.
package struct StoredExecutor: Sendable {
    package var id: Int64
    package var name: String
    /// `online`, `draining`, `lost`, ...
    package var state: String
    package var spec: ExecutorSpecBody
    /// When a plane last wrote that it heard from it (nil: never).
    package var lastHeardNs: Int64?
    package init(id: Int64, name: String, state: String, spec: ExecutorSpecBody, lastHeardNs: Int64? = nil) {
        self.id = id
        self.name = name
        self.state = state
        self.spec = spec
        self.lastHeardNs = lastHeardNs
    }
}

/// A task not yet ended, as the store keeps it.
package struct StoredTask: Sendable {
    package var id: Int64
    package var agentVersion: Int64
    package var userID: Int64
    package var userName: String
    package var priority: Int8
    package var state: String
    package var attempt: UInt16
    package var executor: Int64?
    package var submittedNs: Int64
    package var input: String
    package init(id: Int64, agentVersion: Int64, userID: Int64, userName: String, priority: Int8, state: String,
                 attempt: UInt16, executor: Int64?, submittedNs: Int64, input: String) {
        self.id = id
        self.agentVersion = agentVersion
        self.userID = userID
        self.userName = userName
        self.priority = priority
        self.state = state
        self.attempt = attempt
        self.executor = executor
        self.submittedNs = submittedNs
        self.input = input
    }
}

/// A new task, accepted in a batch.
package struct NewTask: Sendable {
    package var id: Int64
    package var agentVersion: Int64
    package var userID: Int64
    package var priority: Int8
    package var input: String
    package var latencyTargetMs: Int?
    package var submittedNs: Int64
    package var idempotencyKey: String?
    package var requestHash: String?
}

/// Everything one batch of plane inputs changed, written in one transaction.
package struct BatchWrite: Sendable {
    package var newTasks: [NewTask] = []
    /// Task id → (state, attempt, executor or nil), the plane's record after the batch.
    package var taskStates: [(id: Int64, state: String, attempt: Int, executor: Int64?)] = []
    package var history: [(task: Int64, state: String, attempt: Int, executor: Int64?, atNs: Int64)] = []
    package var results: [(task: Int64, attempt: Int, succeeded: Bool, output: String?)] = []
    package var audit: [(actor: String, action: String, subject: String, detail: String, atNs: Int64)] = []
    package var executorStates: [(id: Int64, state: String)] = []
    /// LLM calls routed, and those that ended (charged, and the tokens they keep in the window).
    package var llmOpened: [StoredLLMCall] = []
    package var llmEnded: [(id: Int64, cost: Int64, windowTokens: Int, atNs: Int64)] = []
    /// When executors were last heard from (written every `LivePlane.heardResolution`, not
    /// on every heartbeat), and until when this plane was listening: what a rebuild counts
    /// their silence from.
    package var executorsHeard: [(id: Int64, atNs: Int64)] = []
    package var listeningNs: Int64?

    package init() {}

    package var isEmpty: Bool {
        newTasks.isEmpty && taskStates.isEmpty && history.isEmpty && results.isEmpty && audit.isEmpty
            && executorStates.isEmpty && llmOpened.isEmpty && llmEnded.isEmpty && executorsHeard.isEmpty && listeningNs == nil
    }
}

/// An LLM call as the store keeps it: by names, not the plane's indices, so that a leader
/// with another catalog reads it right (a model or provider it does not know is left out).
package struct StoredLLMCall: Sendable, Equatable {
    package var id: Int64
    package var routedNs: Int64
    package var origin: Int64
    /// `local`, `peer` or `cloud`.
    package var target: String
    /// The serving executor (local and peer), or the provider (cloud).
    package var executor: Int64?
    package var provider: String?
    package var model: String
    package var tenant: String
    package var reservedMicroUSD: Int64
    package var inputPricePerMillion: Double
    package var outputPricePerMillion: Double
    package var windowTokens: Int
    /// Nil while open.
    package var costMicroUSD: Int64?

    package init(id: Int64, routedNs: Int64, origin: Int64, target: String, executor: Int64?, provider: String?, model: String,
                 tenant: String, reservedMicroUSD: Int64, inputPricePerMillion: Double, outputPricePerMillion: Double,
                 windowTokens: Int, costMicroUSD: Int64? = nil) {
        self.id = id
        self.routedNs = routedNs
        self.origin = origin
        self.target = target
        self.executor = executor
        self.provider = provider
        self.model = model
        self.tenant = tenant
        self.reservedMicroUSD = reservedMicroUSD
        self.inputPricePerMillion = inputPricePerMillion
        self.outputPricePerMillion = outputPricePerMillion
        self.windowTokens = windowTokens
        self.costMicroUSD = costMicroUSD
    }
}

/// What the store holds of the LLM router's money and limits.
package struct StoredLLMLedger: Sendable {
    /// Open calls, and cloud calls routed in the minute before the load.
    package var calls: [StoredLLMCall] = []
    /// Charged by ended calls, by provider and tenant name.
    package var spentByProvider: [String: Int64] = [:]
    package var spentByTenant: [String: Int64] = [:]
    /// The highest call id ever used (ids continue after it).
    package var lastCall: Int64 = 0
    package init(calls: [StoredLLMCall] = [], spentByProvider: [String: Int64] = [:], spentByTenant: [String: Int64] = [:],
                 lastCall: Int64 = 0) {
        self.calls = calls
        self.spentByProvider = spentByProvider
        self.spentByTenant = spentByTenant
        self.lastCall = lastCall
    }
}

extension PlaneConfig {
    /// The store's form of a call the plane routed.
    package func stored(_ r: LLMCallRecord) -> StoredLLMCall {
        let (target, executor, provider): (String, Int64?, String?) = switch r.target {
        case .local(let e): ("local", Int64(e.rawValue), nil)
        case .peer(let e): ("peer", Int64(e.rawValue), nil)
        case .cloud(let p): ("cloud", nil, llm.providers[p.index].name)
        case .rejected: ("rejected", nil, nil)
        }
        return StoredLLMCall(id: r.id, routedNs: r.routedAt.nanoseconds, origin: Int64(r.origin.rawValue), target: target,
                             executor: executor, provider: provider, model: llm.models[r.model.index].name,
                             tenant: r.tenant.index < tenants.count ? tenants[r.tenant.index].name : "shared",
                             reservedMicroUSD: r.reservedMicroUSD, inputPricePerMillion: r.inputPricePerMillion,
                             outputPricePerMillion: r.outputPricePerMillion, windowTokens: r.windowTokens,
                             costMicroUSD: r.costMicroUSD)
    }

    /// The plane's ledger from the store's, in this configuration's catalog.
    package func ledger(_ stored: StoredLLMLedger) -> LLMLedger {
        var calls: [LLMCallRecord] = []
        for c in stored.calls {
            guard let m = llm.models.firstIndex(where: { $0.name == c.model }) else { continue }
            let target: LLMTarget
            switch c.target {
            case "local": guard let e = c.executor else { continue }; target = .local(ExecutorID(Int32(truncatingIfNeeded: e)))
            case "peer": guard let e = c.executor else { continue }; target = .peer(ExecutorID(Int32(truncatingIfNeeded: e)))
            case "cloud":
                guard let p = llm.providers.firstIndex(where: { $0.name == c.provider }) else { continue }
                target = .cloud(ProviderID(Int32(p)))
            default: continue
            }
            calls.append(LLMCallRecord(id: c.id, target: target, origin: ExecutorID(Int32(truncatingIfNeeded: c.origin)),
                                       model: ModelID(Int32(m)), tenant: tenant(of: c.tenant),
                                       routedAt: Instant(nanoseconds: c.routedNs), reservedMicroUSD: c.reservedMicroUSD,
                                       inputPricePerMillion: c.inputPricePerMillion,
                                       outputPricePerMillion: c.outputPricePerMillion, windowTokens: c.windowTokens,
                                       costMicroUSD: c.costMicroUSD))
        }
        return LLMLedger(calls: calls, spentByProvider: llm.providers.map { stored.spentByProvider[$0.name] ?? 0 },
                         spentByTenant: tenants.map { stored.spentByTenant[$0.name] ?? 0 })
    }
}

extension PlaneConfig {
    /// The policy's tenant named like the user, else the shared tenant: a policy's `tenants`
    /// (weights, homes) apply live to the users of those names.
    package func tenant(of user: String) -> TenantID {
        tenants.firstIndex { $0.name == user }.map { TenantID(Int32($0)) } ?? .shared
    }
}
