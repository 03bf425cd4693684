import Foundation

/// What the plane sends an executor over JetStream, on `honeycomb.tasks.<executor id>`.
public struct ExecutorMessage: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// Run attempt `attempt` of the task.
        case run
        /// Stop attempt `attempt` of the task: it was cancelled or preempted.
        case stop
        /// Load `model` ahead of demand.
        case warmUp
    }

    public var kind: Kind
    public var task: Int64
    public var attempt: Int
    public var agent: String?
    public var version: String?
    /// Where the executor fetches the signed bundle (the API verifies it before serving it).
    public var bundlePath: String?
    public var bundleSHA256: String?
    /// The publisher's Ed25519 key, hex: the executor checks the bundle's signature itself too.
    public var publisherKey: String?
    public var bundleSignature: String?
    /// The task's input, as JSON text.
    public var input: String?
    /// The agent version's profile (JSON text): what the reference executor draws run times from.
    public var profile: String?
    public var model: String?
    /// Wall-clock nanoseconds since 1970 at submission and at dispatch.
    public var submittedAtNs: Int64?
    public var dispatchedAtNs: Int64?

    /// The JetStream message id: one per task attempt and kind, so a repeated publish is dropped.
    public var messageID: String { "\(kind.rawValue)-\(task)-\(attempt)\(model.map { "-" + $0 } ?? "")" }

}

/// Where a deployment's dispatches go: one JetStream stream, one subject per executor.
/// The namespace keeps deployments (and tests) sharing a NATS server apart.
public struct DispatchChannel: Sendable, Codable, Equatable {
    public var namespace: String
    public init(namespace: String = "honeycomb") { self.namespace = namespace }
    public var stream: String { namespace.uppercased().replacingOccurrences(of: "-", with: "_") + "_TASKS" }
    public var subjects: [String] { ["\(namespace).tasks.>"] }
    public func subject(executor: Int64) -> String { "\(namespace).tasks.\(executor)" }
}

/// The wall clock, in nanoseconds since 1970: the live plane's time.
enum WallClock {
    static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
