/// What the plane sends an executor over the dispatch bus (JetStream, on
/// `<namespace>.tasks.<executor id>`).
package struct ExecutorMessage: Codable, Sendable, Equatable {
    package enum Kind: String, Codable, Sendable {
        /// Run attempt `attempt` of the task.
        case run
        /// Stop attempt `attempt` of the task: it was cancelled or preempted.
        case stop
        /// Load `model` ahead of demand.
        case warmUp
    }

    package var kind: Kind
    /// The executor it is for.
    package var executor: Int64
    package var task: Int64
    package var attempt: Int
    package var agent: String?
    package var version: String?
    /// Where the executor fetches the signed bundle (the API verifies it before serving it).
    package var bundlePath: String?
    package var bundleSHA256: String?
    /// The publisher's Ed25519 key, hex: the executor checks the bundle's signature itself too.
    package var publisherKey: String?
    package var bundleSignature: String?
    /// The task's input, as JSON text.
    package var input: String?
    /// The agent version's profile (JSON text): what the reference executor draws run times from.
    package var profile: String?
    package var model: String?
    /// The driver's clock (wall-clock nanoseconds since 1970, live) at submission and at dispatch.
    package var submittedAtNs: Int64?
    package var dispatchedAtNs: Int64?

    package init(kind: Kind, executor: Int64, task: Int64, attempt: Int, agent: String? = nil, version: String? = nil,
                 bundlePath: String? = nil, bundleSHA256: String? = nil, publisherKey: String? = nil,
                 bundleSignature: String? = nil, input: String? = nil, profile: String? = nil, model: String? = nil,
                 submittedAtNs: Int64? = nil, dispatchedAtNs: Int64? = nil) {
        self.kind = kind
        self.executor = executor
        self.task = task
        self.attempt = attempt
        self.agent = agent
        self.version = version
        self.bundlePath = bundlePath
        self.bundleSHA256 = bundleSHA256
        self.publisherKey = publisherKey
        self.bundleSignature = bundleSignature
        self.input = input
        self.profile = profile
        self.model = model
        self.submittedAtNs = submittedAtNs
        self.dispatchedAtNs = dispatchedAtNs
    }

    /// The bus's message id: one per task attempt and kind, so a repeated publish is dropped
    /// (a warm-up, one per request).
    package var messageID: String {
        switch kind {
        case .run, .stop: "\(kind.rawValue)-\(task)-\(attempt)"
        case .warmUp: "warmUp-\(executor)-\(model ?? "")-\(dispatchedAtNs ?? 0)"
        }
    }
}
