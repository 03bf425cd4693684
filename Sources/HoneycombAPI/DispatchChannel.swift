import Foundation

/// Where a deployment's dispatches go: one JetStream stream, one subject per executor.
/// The namespace keeps deployments (and tests) sharing a NATS server apart.
public struct DispatchChannel: Sendable, Codable, Equatable {
    public var namespace: String
    public init(namespace: String = "honeycomb") { self.namespace = namespace }
    public var stream: String { namespace.uppercased().replacingOccurrences(of: "-", with: "_") + "_TASKS" }
    public var subjects: [String] { ["\(namespace).tasks.>"] }
    public func subject(executor: Int64) -> String { "\(namespace).tasks.\(executor)" }
}
