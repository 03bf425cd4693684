import Yams

/// A change to one field of a scenario, given on the command line as `PATH=VALUE`
/// (`policy.scheduler.score.binpack=0.5`, `executors[0].count=200`). The value is YAML, so
/// `{exponential: {mean: 30m}}` works too.
public struct ScenarioOverride: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var value: String

    public init(path: String, value: String) {
        self.path = path
        self.value = value
    }

    /// Parses `PATH=VALUE`; nil when there is no `=` or no path.
    public init?(_ text: String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { return nil }
        path = String(text[..<eq]).trimmingWhitespace()
        value = String(text[text.index(after: eq)...]).trimmingWhitespace()
    }

    public var description: String { "\(path)=\(value)" }

    /// The path's steps: keys, and indices for `[n]`.
    enum Step { case key(String), index(Int) }

    func steps(file: String) throws -> [Step] {
        var out: [Step] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            let name = rest.prefix { $0 != "[" }
            guard !name.isEmpty else { throw bad(file, "'\(path)' has an empty field name") }
            out.append(.key(String(name)))
            rest = rest.dropFirst(name.count)
            while !rest.isEmpty {
                guard rest.first == "[", let close = rest.firstIndex(of: "]"),
                      let i = Int(rest[rest.index(after: rest.startIndex)..<close]), i >= 0 else {
                    throw bad(file, "'\(path)': expected field names and [index] steps")
                }
                out.append(.index(i))
                rest = rest[rest.index(after: close)...]
            }
        }
        return out
    }

    func bad(_ file: String, _ message: String) -> ScenarioError {
        ScenarioError(file: file, line: 0, column: 0, path: path, message: "in --set \(description): \(message)")
    }
}

extension Scenario {
    /// Applies overrides to a parsed YAML tree. Fields that do not exist yet are created
    /// (`policy.lease=2m` on a file without `policy`); list items must exist.
    static func apply(_ overrides: [ScenarioOverride], to root: Node, file: String) throws -> Node {
        var node = root
        for o in overrides {
            let value: Node
            do {
                value = stripMarks(try Yams.compose(yaml: o.value) ?? Node(""))
            } catch {
                throw o.bad(file, "the value is not valid YAML")
            }
            node = try set(value, at: o.steps(file: file)[...], in: node, override: o, file: file)
        }
        return node
    }

    private static func set(_ value: Node, at steps: ArraySlice<ScenarioOverride.Step>, in node: Node,
                            override o: ScenarioOverride, file: String) throws -> Node {
        guard let step = steps.first else { return value }
        switch step {
        case .key(let key):
            var pairs: [(Node, Node)] = []
            var tag = Tag.implicit, style = Node.Mapping.Style.any, mark: Mark?
            if case .mapping(let m) = node {
                pairs = m.map { ($0.key, $0.value) }
                (tag, style, mark) = (m.tag, m.style, m.mark)
            } else if case .scalar(let s) = node, !s.string.isEmpty {
                throw o.bad(file, "'\(key)' is set inside a value that is not a mapping")
            }
            if let i = pairs.firstIndex(where: { $0.0.string == key }) {
                pairs[i].1 = try set(value, at: steps.dropFirst(), in: pairs[i].1, override: o, file: file)
            } else {
                pairs.append((Node(key), try set(value, at: steps.dropFirst(), in: Node(""), override: o, file: file)))
            }
            return .mapping(Node.Mapping(pairs, tag, style, mark))
        case .index(let i):
            guard case .sequence(let s) = node, i < s.count else {
                throw o.bad(file, "there is no item [\(i)] to change")
            }
            var items = Array(s)
            items[i] = try set(value, at: steps.dropFirst(), in: items[i], override: o, file: file)
            return .sequence(Node.Sequence(items, s.tag, s.style, s.mark))
        }
    }

    /// A copy without positions: an error inside an override then names its field path,
    /// never a line of the file that the override replaced.
    private static func stripMarks(_ node: Node) -> Node {
        switch node {
        case .scalar(let s): return .scalar(Node.Scalar(s.string, s.tag, s.style, nil))
        case .mapping(let m):
            return .mapping(Node.Mapping(m.map { (stripMarks($0.key), stripMarks($0.value)) }, m.tag, m.style, nil))
        case .sequence(let s): return .sequence(Node.Sequence(s.map(stripMarks), s.tag, s.style, nil))
        case .alias: return node
        }
    }
}
