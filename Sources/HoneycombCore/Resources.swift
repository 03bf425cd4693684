/// An amount of the resources an executor offers and a task needs.
///
/// CPU is in millicores and memory in bytes, both integers, so that reserving and releasing
/// capacity is exact. `slots` counts concurrent tasks an executor accepts.
public struct Resources: Hashable, Sendable {
    public var cpuMillis: Int64
    public var memoryBytes: Int64
    public var slots: Int64

    @inlinable public init(cpuMillis: Int64, memoryBytes: Int64, slots: Int64) {
        self.cpuMillis = cpuMillis
        self.memoryBytes = memoryBytes
        self.slots = slots
    }

    public static let zero = Resources(cpuMillis: 0, memoryBytes: 0, slots: 0)

    @inlinable public static func + (a: Resources, b: Resources) -> Resources {
        Resources(cpuMillis: a.cpuMillis + b.cpuMillis, memoryBytes: a.memoryBytes + b.memoryBytes,
                  slots: a.slots + b.slots)
    }
    @inlinable public static func - (a: Resources, b: Resources) -> Resources {
        Resources(cpuMillis: a.cpuMillis - b.cpuMillis, memoryBytes: a.memoryBytes - b.memoryBytes,
                  slots: a.slots - b.slots)
    }
    /// True when every dimension of `self` is at most that of `other`.
    @inlinable public func fits(in other: Resources) -> Bool {
        cpuMillis <= other.cpuMillis && memoryBytes <= other.memoryBytes && slots <= other.slots
    }
}

/// One `key=value` label, as written in a scenario or reported by an executor.
public struct Label: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) { self.key = key; self.value = value }
    public static func < (a: Label, b: Label) -> Bool { (a.key, a.value) < (b.key, b.value) }
    public var description: String { "\(key)=\(value)" }
}

/// A set of labels kept sorted by key, so that equal sets compare equal and print the same.
public struct LabelSet: Hashable, Sendable, CustomStringConvertible {
    /// The labels, sorted by key; a key appears at most once.
    public private(set) var labels: [Label]

    /// Builds a set; a later duplicate key replaces an earlier one.
    public init(_ labels: [Label] = []) {
        var byKey: [Label] = []
        for label in labels {
            if let i = byKey.firstIndex(where: { $0.key == label.key }) { byKey[i] = label } else { byKey.append(label) }
        }
        self.labels = byKey.sorted()
    }

    /// The value of `key`, if present.
    public subscript(key: String) -> String? { labels.first { $0.key == key }?.value }

    /// True when every label of `required` is present here with the same value.
    public func satisfies(_ required: LabelSet) -> Bool {
        required.labels.allSatisfy { self[$0.key] == $0.value }
    }

    public var description: String { "{" + labels.map(\.description).joined(separator: ",") + "}" }
}
