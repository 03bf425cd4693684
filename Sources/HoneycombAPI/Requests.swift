import Foundation
import HoneycombLive

// The bodies clients send: the server decodes them, the reference fleet and the tests encode
// them. Their limits are checked by the server's handlers (`Check`), not here.

package struct UserRequest: Codable, Sendable {
    package var name: String
    package var role: Role
    package var ttlSeconds: Int64?

    package init(name: String, role: Role, ttlSeconds: Int64? = nil) {
        self.name = name
        self.role = role
        self.ttlSeconds = ttlSeconds
    }
}

package struct TaskRequest: Codable, Sendable {
    package var agent: String
    package var version: String?
    package var input: JSONValue?
    package var priority: Int?
    package var latencyTargetMs: Int?

    package init(agent: String, version: String? = nil, input: JSONValue? = nil, priority: Int? = nil,
                 latencyTargetMs: Int? = nil) {
        self.agent = agent
        self.version = version
        self.input = input
        self.priority = priority
        self.latencyTargetMs = latencyTargetMs
    }
}

package struct PublishRequest: Codable, Sendable {
    package var version: String
    package var description: String?
    package var cpuMillis: Int64
    package var memoryBytes: Int64
    package var labels: [String: String]?
    package var maxAttempts: Int?
    package var profile: JSONValue?
    /// The WASM bundle, base64.
    package var bundle: String
    /// Ed25519 signature of the bundle's bytes, hex.
    package var signature: String
    /// The publisher's Ed25519 public key, hex.
    package var publisherKey: String

    package init(version: String, description: String? = nil, cpuMillis: Int64, memoryBytes: Int64,
                 labels: [String: String]? = nil, maxAttempts: Int? = nil, profile: JSONValue? = nil,
                 bundle: String, signature: String, publisherKey: String) {
        self.version = version
        self.description = description
        self.cpuMillis = cpuMillis
        self.memoryBytes = memoryBytes
        self.labels = labels
        self.maxAttempts = maxAttempts
        self.profile = profile
        self.bundle = bundle
        self.signature = signature
        self.publisherKey = publisherKey
    }
}

/// Up to 1,000 tasks, accepted all together or not at all.
package struct TaskBatchRequest: Codable, Sendable {
    package var tasks: [TaskRequest]
    package init(tasks: [TaskRequest]) { self.tasks = tasks }
}

/// Several reports of one executor (the reference executor sends its reports this way).
package struct ReportsRequest: Codable, Sendable {
    package var reports: [Report]
    package init(reports: [Report]) { self.reports = reports }

    package struct Report: Codable, Sendable {
        package var task: Int64
        package var attempt: Int
        /// `start` or `result`.
        package var kind: String
        package var succeeded: Bool?
        package var output: JSONValue?

        package init(task: Int64, attempt: Int, kind: String, succeeded: Bool? = nil, output: JSONValue? = nil) {
            self.task = task
            self.attempt = attempt
            self.kind = kind
            self.succeeded = succeeded
            self.output = output
        }
    }
}

/// How a routed LLM call ended.
package struct LLMCompletion: Codable, Sendable {
    package var succeeded: Bool
    package var inputTokens: Int?
    package var outputTokens: Int?
    /// A refusal's Retry-After, in milliseconds.
    package var retryAfterMs: Int?

    package init(succeeded: Bool, inputTokens: Int? = nil, outputTokens: Int? = nil, retryAfterMs: Int? = nil) {
        self.succeeded = succeeded
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.retryAfterMs = retryAfterMs
    }
}

package struct EnrollRequest: Codable, Sendable {
    package var enrollmentToken: String
    package var name: String
    package init(enrollmentToken: String, name: String) {
        self.enrollmentToken = enrollmentToken
        self.name = name
    }
}

package struct ProgressRequest: Codable, Sendable {
    package var fraction: Double
    package init(fraction: Double) { self.fraction = fraction }
}

package struct ResultRequest: Codable, Sendable {
    package var succeeded: Bool
    package var output: JSONValue?
    package init(succeeded: Bool, output: JSONValue? = nil) {
        self.succeeded = succeeded
        self.output = output
    }
}
