/// An executor's dense identifier: an index into the registry's tables.
///
/// Dense integers (not UUIDs or names) keep the registry in flat arrays, so iteration order
/// is the id order and never depends on hashing.
public struct ExecutorID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    @inlinable public init(_ index: Int) { self.rawValue = Int32(index) }
    @inlinable public var index: Int { Int(rawValue) }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "executor#\(rawValue)" }
}

/// A task's dense identifier, assigned by whoever submits it (the simulator's workload, or
/// the live service's database sequence).
public struct TaskID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    @inlinable public init(_ index: Int) { self.rawValue = Int32(index) }
    @inlinable public var index: Int { Int(rawValue) }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "task#\(rawValue)" }
}

/// An agent definition's dense identifier in the `AgentRegistry`.
public struct AgentID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    @inlinable public init(_ rawValue: Int32) { self.rawValue = rawValue }
    @inlinable public init(_ index: Int) { self.rawValue = Int32(index) }
    @inlinable public var index: Int { Int(rawValue) }
    @inlinable public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "agent#\(rawValue)" }
}
