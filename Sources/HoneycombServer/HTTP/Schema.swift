import Foundation
import Synchronization

/// A JSON Schema, the subset the API uses: what the OpenAPI document says of a body, a
/// parameter or an answer, and — the same value — what the server checks a request against
/// before it decodes it. Each rule is stated once: `document` renders it, `check` enforces it.
indirect enum Schema: Sendable {
    /// Members by name; `others` is the schema of members not named (a map), nil when no other
    /// member is allowed; `keys` constrains their names.
    case object([Field], others: Schema? = nil, keys: Schema? = nil)
    /// Lengths in Unicode scalars; `pattern` an anchored ECMA regular expression the whole
    /// string must match; `values` an enumeration.
    case string(min: Int = 0, max: Int? = nil, pattern: String? = nil, values: [String]? = nil, format: String? = nil)
    case integer(min: Int64? = nil, max: Int64? = nil)
    case number(min: Double? = nil, max: Double? = nil)
    case boolean
    case array(Schema, min: Int = 0, max: Int? = nil)
    /// Any JSON value without the NUL character (PostgreSQL's jsonb refuses it).
    case json
    /// Exactly one of these objects, told apart by the string member `tag`.
    case tagged(String, [(String, Schema)])
    /// A schema of the document's components, by name.
    case named(String)
    /// The schema, with what it means.
    case described(String, Schema)

    /// A member of an object.
    struct Field: Sendable {
        var name: String
        var schema: Schema
        var isRequired: Bool

        static func field(_ name: String, _ schema: Schema) -> Field { Field(name: name, schema: schema, isRequired: false) }
        static func required(_ name: String, _ schema: Schema) -> Field { Field(name: name, schema: schema, isRequired: true) }
    }

    func described(_ text: String) -> Schema { .described(text, self) }

    /// The schema without its descriptions.
    var shape: Schema {
        if case .described(_, let inner) = self { return inner.shape }
        return self
    }

    // MARK: The document

    /// The JSON Schema object, for the OpenAPI document.
    var document: [String: Any] {
        switch self {
        case .object(let fields, let others, let keys):
            var out: [String: Any] = ["type": "object",
                                      "properties": Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0.schema.document) })]
            let required = fields.filter(\.isRequired).map(\.name)
            if !required.isEmpty { out["required"] = required }
            out["additionalProperties"] = others.map { $0.document } ?? false
            if let keys { out["propertyNames"] = keys.document }
            return out
        case .string(let min, let max, let pattern, let values, let format):
            var out: [String: Any] = ["type": "string"]
            if min > 0 { out["minLength"] = min }
            if let max { out["maxLength"] = max }
            // No string may hold NUL (the parser refuses it): said, where no pattern says more.
            out["pattern"] = pattern ?? "^[^\\u0000]*$"
            if let values { out["enum"] = values }
            if let format { out["format"] = format }
            return out
        case .integer(let min, let max):
            var out: [String: Any] = ["type": "integer", "format": "int64"]
            if let min { out["minimum"] = min }
            if let max { out["maximum"] = max }
            return out
        case .number(let min, let max):
            var out: [String: Any] = ["type": "number"]
            if let min { out["minimum"] = min }
            if let max { out["maximum"] = max }
            return out
        case .boolean:
            return ["type": "boolean"]
        case .array(let items, let min, let max):
            var out: [String: Any] = ["type": "array", "items": items.document]
            if min > 0 { out["minItems"] = min }
            if let max { out["maxItems"] = max }
            return out
        case .json:
            return ["$ref": "#/components/schemas/JSONValue"]
        case .tagged(_, let branches):
            return ["oneOf": branches.map { $0.1.document }]
        case .named(let name):
            return ["$ref": "#/components/schemas/\(name)"]
        case .described(let text, let schema):
            var out = schema.document
            if out["$ref"] != nil { return ["allOf": [out], "description": text] }
            out["description"] = text
            return out
        }
    }

    /// `JSONValue` in the document: any JSON value. (That its strings hold no NUL is said in
    /// words: the recursive schema that says it sends schemathesis's generator into a
    /// recursion Python refuses.)
    static var jsonValueDocument: [String: Any] {
        ["description": "Any JSON value; no string or member name in it may hold the NUL character (U+0000)."]
    }

    // MARK: Checking

    /// Refuses a value the schema does not admit, saying where (`at tasks[2].agent: ...`).
    /// `named` schemas are looked up in `components`.
    func check(_ node: JSONNode, at path: String = "", _ components: [String: Schema]) throws {
        func refuse(_ what: String) -> Problem {
            Problem.badRequest("at \(path.isEmpty ? "the top level" : path): \(what)")
        }
        func member(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
        switch self {
        case .described(_, let schema):
            try schema.check(node, at: path, components)
        case .named(let name):
            guard let schema = components[name] else { throw refuse("no schema \(name)") }
            try schema.check(node, at: path, components)
        case .object(let fields, let others, let keys):
            guard case .object(let members) = node else { throw refuse("expected an object, \(node.found)") }
            for f in fields {
                if let v = members[f.name] {
                    try f.schema.check(v, at: member(f.name), components)
                } else if f.isRequired {
                    throw Problem.badRequest("at \(member(f.name)): required, missing")
                }
            }
            let named = Set(fields.map(\.name))
            for name in members.keys.sorted() where !named.contains(name) {
                guard let others else {
                    throw Problem.badRequest("at \(member(name)): not a member of this object (expected "
                        + (fields.isEmpty ? "none" : fields.map(\.name).joined(separator: ", ")) + ")")
                }
                if let keys { try keys.check(.string(name), at: "\(member(name)) (its name)", components) }
                try others.check(members[name]!, at: member(name), components)
            }
        case .string(let min, let max, let pattern, let values, _):
            guard case .string(let s) = node else { throw refuse("expected a string, \(node.found)") }
            let length = s.unicodeScalars.count
            if length < min || max.map({ length > $0 }) == true {
                throw refuse("expected \(min)" + (max.map { " to \($0)" } ?? " or more") + " characters, found \(length)")
            }
            if let values, !values.contains(s) {
                throw refuse("expected one of \(values.joined(separator: ", ")), found \(Self.quote(s))")
            }
            if let pattern, !Self.matches(s, pattern) {
                throw refuse("\(Self.quote(s)) does not match \(pattern)")
            }
            if pattern == nil, s.unicodeScalars.contains("\0") { throw refuse("strings may not contain the NUL character (\\u0000)") }
        case .integer(let min, let max):
            guard case .number(let text) = node else { throw refuse("expected an integer, \(node.found)") }
            guard let v = JSONNode.integer(text) else {
                throw refuse(text.contains(where: { ".eE".contains($0) }) ? "expected an integer, found \(text)"
                             : "out of range: expected an integer in \(min.map(String.init) ?? "")...\(max.map(String.init) ?? ""), found \(text)")
            }
            if min.map({ v < $0 }) == true || max.map({ v > $0 }) == true {
                throw refuse("expected an integer in \(min.map(String.init) ?? "")...\(max.map(String.init) ?? ""), found \(text)")
            }
        case .number(let min, let max):
            guard case .number(let text) = node, let v = Double(text), v.isFinite else {
                throw refuse("expected a number, \(node.found)")
            }
            if min.map({ v < $0 }) == true || max.map({ v > $0 }) == true {
                throw refuse("expected a number in \(min.map { "\($0)" } ?? "")...\(max.map { "\($0)" } ?? ""), found \(text)")
            }
        case .boolean:
            guard case .bool = node else { throw refuse("expected true or false, \(node.found)") }
        case .array(let items, let min, let max):
            guard case .array(let list) = node else { throw refuse("expected an array, \(node.found)") }
            if list.count < min || max.map({ list.count > $0 }) == true {
                throw refuse("expected \(min)" + (max.map { " to \($0)" } ?? " or more") + " items, found \(list.count)")
            }
            for (k, item) in list.enumerated() { try items.check(item, at: "\(path)[\(k)]", components) }
        case .json:
            if let where_ = Self.nul(in: node, at: path) {
                throw Problem.badRequest("at \(where_.isEmpty ? "the top level" : where_): strings may not contain the NUL character (\\u0000)")
            }
        case .tagged(let tag, let branches):
            guard case .object(let members) = node else { throw refuse("expected an object, \(node.found)") }
            guard case .string(let kind)? = members[tag] else { throw Problem.badRequest("at \(member(tag)): required, missing") }
            guard let branch = branches.first(where: { $0.0 == kind }) else {
                throw Problem.badRequest("at \(member(tag)): expected one of \(branches.map(\.0).joined(separator: ", ")), found \(Self.quote(kind))")
            }
            try branch.1.check(node, at: path, components)
        }
    }

    /// A client's string as a message quotes it: its first 40 characters, control characters
    /// escaped (so that an answer never carries what the request could not).
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars.prefix(40) {
            if u.value < 0x20 || (0x7f...0x9f).contains(u.value) { out += "\\u" + String(u.value, radix: 16).leftPadded(4) }
            else if u == "\"" || u == "\\" { out += "\\" + String(u) }
            else { out.unicodeScalars.append(u) }
        }
        return out + (s.unicodeScalars.count > 40 ? "…\"" : "\"")
    }

    /// Where a NUL is, if anywhere.
    private static func nul(in node: JSONNode, at path: String) -> String? {
        switch node {
        case .string(let s): return s.unicodeScalars.contains("\0") ? path : nil
        case .array(let list):
            for (k, v) in list.enumerated() { if let p = nul(in: v, at: "\(path)[\(k)]") { return p } }
            return nil
        case .object(let members):
            for name in members.keys.sorted() {
                let p = path.isEmpty ? name : "\(path).\(name)"
                if name.unicodeScalars.contains("\0") { return p }
                if let inner = nul(in: members[name]!, at: p) { return inner }
            }
            return nil
        default: return nil
        }
    }

    private static let compiled = Mutex<[String: NSRegularExpression]>([:])

    /// True when the whole string matches the pattern (the document's own regular expression).
    static func matches(_ s: String, _ pattern: String) -> Bool {
        let regex = compiled.withLock { cache -> NSRegularExpression in
            if let r = cache[pattern] { return r }
            let r = try! NSRegularExpression(pattern: pattern)
            cache[pattern] = r
            return r
        }
        let whole = NSRange(s.startIndex..., in: s)
        return regex.firstMatch(in: s, range: whole)?.range == whole
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
