/// A dense integer identifier: an index into the plane's flat tables.
///
/// Dense integers (not UUIDs or names) keep registries in flat arrays, so iteration order is
/// id order and never depends on hashing. Each kind of id is its own type, so an executor id
/// can never be passed where a task id is meant.
public protocol DenseIdentifier: Hashable, Comparable, Sendable, CustomStringConvertible {
    var rawValue: Int32 { get }
    init(_ rawValue: Int32)
    /// What the id names, for `description` (`executor#3`).
    static var kind: String { get }
}

extension DenseIdentifier {
    @inlinable public init(_ index: Int) { self.init(Int32(index)) }
    @inlinable public var index: Int { Int(rawValue) }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(Self.kind)#\(rawValue)" }
}

/// An executor's identifier in the `ExecutorRegistry`.
public struct ExecutorID: DenseIdentifier {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static var kind: String { "executor" }
}

/// A task's identifier, assigned by whoever submits it (the simulator's workload, or the
/// live service's database sequence).
public struct TaskID: DenseIdentifier {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static var kind: String { "task" }
}

/// An agent version's identifier in the `AgentRegistry`.
public struct AgentID: DenseIdentifier {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static var kind: String { "agent" }
}

/// A tenant's (user's or team's) identifier: who submitted a task, who owns an executor.
public struct TenantID: DenseIdentifier {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static var kind: String { "tenant" }
    /// The tenant of tasks and executors that name none.
    public static let shared = TenantID(0)
}
