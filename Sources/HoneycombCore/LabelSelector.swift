/// One condition on an executor's labels.
public enum LabelCondition: Hashable, Sendable, CustomStringConvertible {
    /// The label has exactly this value.
    case equals(String)
    /// The label has one of these values.
    case oneOf([String])
    /// The label is absent or has another value.
    case notEquals(String)
    /// The label is present, whatever its value.
    case exists
    /// The label is a dotted version (`2.1.3`) comparing to the given one as stated.
    case version(VersionComparison, String)

    public enum VersionComparison: String, Hashable, Sendable {
        case atLeast = ">=", greater = ">", atMost = "<=", less = "<"
    }

    /// True when a label whose value is `value` (nil when absent) meets the condition.
    public func holds(for value: String?) -> Bool {
        switch self {
        case .equals(let v): return value == v
        case .oneOf(let vs): return value.map(vs.contains) ?? false
        case .notEquals(let v): return value != v
        case .exists: return value != nil
        case .version(let op, let v):
            guard let value else { return false }
            let c = VersionOrder.compare(value, v)
            switch op {
            case .atLeast: return c >= 0
            case .greater: return c > 0
            case .atMost: return c <= 0
            case .less: return c < 0
            }
        }
    }

    public var description: String {
        switch self {
        case .equals(let v): v
        case .oneOf(let vs): "[" + vs.joined(separator: ",") + "]"
        case .notEquals(let v): "!=\(v)"
        case .exists: "*"
        case .version(let op, let v): "\(op.rawValue)\(v)"
        }
    }
}

/// Compares dotted version strings numerically part by part (`2.10` > `2.9`); a part that
/// is not a number compares as text.
public enum VersionOrder {
    /// -1, 0 or 1 as `a` is below, equal to or above `b`.
    public static func compare(_ a: String, _ b: String) -> Int {
        let pa = a.split(separator: "."), pb = b.split(separator: ".")
        for i in 0..<max(pa.count, pb.count) {
            let x = i < pa.count ? pa[i] : "0", y = i < pb.count ? pb[i] : "0"
            if let nx = Int(x), let ny = Int(y) {
                if nx != ny { return nx < ny ? -1 : 1 }
            } else if x != y {
                return x < y ? -1 : 1
            }
        }
        return 0
    }
}

/// What an agent requires of an executor's labels: every condition must hold.
public struct LabelSelector: Hashable, Sendable, CustomStringConvertible {
    /// Conditions by label key, sorted by key.
    public private(set) var conditions: [(key: String, condition: LabelCondition)]

    public init(_ conditions: [(String, LabelCondition)] = []) {
        self.conditions = conditions.map { (key: $0.0, condition: $0.1) }.sorted { $0.key < $1.key }
    }

    /// A selector requiring each label of `labels` with its exact value.
    public init(exactly labels: LabelSet) {
        self.init(labels.labels.map { ($0.key, .equals($0.value)) })
    }

    public var isEmpty: Bool { conditions.isEmpty }

    public static func == (a: LabelSelector, b: LabelSelector) -> Bool {
        a.conditions.count == b.conditions.count
            && zip(a.conditions, b.conditions).allSatisfy { $0.key == $1.key && $0.condition == $1.condition }
    }

    public func hash(into h: inout Hasher) {
        for c in conditions { h.combine(c.key); h.combine(c.condition) }
    }

    public var description: String {
        "{" + conditions.map { "\($0.key): \($0.condition)" }.joined(separator: ", ") + "}"
    }
}

extension LabelSet {
    /// True when every condition of `selector` holds for these labels.
    public func satisfies(_ selector: LabelSelector) -> Bool {
        selector.conditions.allSatisfy { $0.condition.holds(for: self[$0.key]) }
    }
}
