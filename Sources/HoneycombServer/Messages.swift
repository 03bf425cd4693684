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

/// The wall clock, in nanoseconds since 1970: the live plane's time.
enum WallClock {
    static func nanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
