/// Request bodies as the API reads them: parsed strictly (RFC 8259, valid UTF-8, no member
/// named twice, no NUL, bounded depth), then decoded with errors that say what was wrong and
/// where in the user's terms ("at tasks[2].priority: expected an integer, found 1.5") —
/// Foundation's decoder says "not valid JSON" for both, and takes the first of two members.
enum StrictJSON {
    /// Deeper documents are refused (a body cannot make the server recurse without bound).
    static let maxDepth = 64

    /// `T` from the body's bytes.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: try parse(bytes))
    }

    /// `T` from a parsed value.
    static func decode<T: Decodable>(_ type: T.Type, from node: JSONNode) throws -> T {
        try T(from: NodeDecoder(node: node, codingPath: []))
    }

    static func parse(_ bytes: [UInt8]) throws -> JSONNode {
        var p = Parser(bytes: bytes)
        try p.checkUTF8()
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.error("unexpected text after the JSON value") }
        return v
    }
}

/// A parsed JSON value; numbers keep their text, so that an integer field can say what it found.
indirect enum JSONNode {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONNode])
    case object([String: JSONNode])

    /// A number's text as an integer, if it has no fraction: `72`, `72.0`, `1e3`; nil for
    /// `1.5`, and for numbers written with a fraction or exponent beyond 2⁵³ (not exact).
    static func integer(_ text: String) -> Int64? {
        if let v = Int64(text) { return v }
        guard text.contains(where: { ".eE".contains($0) }), let d = Double(text), d.isFinite, d == d.rounded(),
              abs(d) <= 9_007_199_254_740_992 else { return nil }
        return Int64(d)
    }

    /// What it is, for messages: "found 1.5", "found a string".
    var found: String {
        switch self {
        case .null: "found null"
        case .bool(let b): "found \(b)"
        case .number(let n): "found \(n)"
        case .string: "found a string"
        case .array: "found an array"
        case .object: "found an object"
        }
    }
}

/// Where and what: "at line 1, column 38: the member \"agent\" appears twice in one object".
struct JSONSyntaxError: Error, CustomStringConvertible {
    var line: Int
    var column: Int
    var message: String
    var description: String { "at line \(line), column \(column): \(message)" }
}

private struct Parser {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        var line = 1, column = 1
        for b in bytes[..<min(offset ?? i, bytes.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return JSONSyntaxError(line: line, column: column, message: message)
    }

    /// The whole body must be UTF-8: the first byte that is not says where.
    func checkUTF8() throws {
        var it = bytes.makeIterator()
        var codec = UTF8()
        var offset = 0
        while true {
            switch codec.decode(&it) {
            case .scalarValue(let s): offset += UTF8.width(s)
            case .emptyInput: return
            case .error: throw error("the body is not valid UTF-8", at: offset)
            }
        }
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
    }

    func byteName(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x" + (b < 0x10 ? "0" : "") + String(b, radix: 16, uppercase: true)
    }

    mutating func value(depth: Int) throws -> JSONNode {
        guard depth < StrictJSON.maxDepth else { throw error("nested deeper than \(StrictJSON.maxDepth) levels") }
        guard i < bytes.count else { throw error("the body ends where a value should be") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth)
        case UInt8(ascii: "["): return try array(depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("expected a JSON value, found \(byteName(bytes[i]))")
        }
    }

    mutating func literal(_ word: String, _ node: JSONNode) throws -> JSONNode {
        let w = Array(word.utf8)
        guard bytes.count - i >= w.count, Array(bytes[i..<(i + w.count)]) == w else {
            throw error("expected a JSON value (\(word)?)")
        }
        i += w.count
        return node
    }

    mutating func object(_ depth: Int) throws -> JSONNode {
        i += 1
        var members: [String: JSONNode] = [:]
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object([:]) }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a member name in double quotes") }
            let at = i
            let key = try string()
            guard members[key] == nil else { throw error("the member \"\(key)\" appears twice in one object", at: at) }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':' after the member name \"\(key)\"") }
            i += 1
            skipSpace()
            members[key] = try value(depth: depth + 1)
            skipSpace()
            guard i < bytes.count else { throw error("the body ends inside an object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw error("expected ',' or '}' in an object, found \(byteName(bytes[i]))")
        }
    }

    mutating func array(_ depth: Int) throws -> JSONNode {
        i += 1
        var items: [JSONNode] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array([]) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw error("the body ends inside an array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw error("expected ',' or ']' in an array, found \(byteName(bytes[i]))")
        }
    }

    mutating func number() throws -> JSONNode {
        let start = i
        func digits() -> Int {
            let s = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1 }
            return i - s
        }
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        let whole = i
        guard digits() > 0 else { throw error("a number needs digits", at: start) }
        if bytes[whole] == UInt8(ascii: "0"), i - whole > 1 { throw error("a number may not start with 0", at: start) }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() > 0 else { throw error("a number needs digits after its '.'", at: start) }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() > 0 else { throw error("a number needs digits in its exponent", at: start) }
        }
        return .number(String(decoding: bytes[start..<i], as: UTF8.self))
    }

    mutating func string() throws -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        var run = i
        while true {
            guard i < bytes.count else { throw error("a string is not closed", at: start) }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                out += bytes[run..<i]
                i += 1
                return String(decoding: out, as: UTF8.self)  // valid: the body was checked, escapes are scalars
            }
            if b == 0 { throw error("a NUL byte inside a string: text here cannot hold NUL") }
            if b < 0x20 { throw error("a control character (\(byteName(b))) inside a string: escape it") }
            guard b == UInt8(ascii: "\\") else { i += 1; continue }
            out += bytes[run..<i]
            i += 1
            guard i < bytes.count else { throw error("a string is not closed", at: start) }
            switch bytes[i] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(bytes[i])
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let scalar = try unicodeEscape()
                out += Array(String(Character(scalar)).utf8)
            default: throw error("an unknown escape \\\(Character(Unicode.Scalar(bytes[i]))) inside a string")
            }
            i += 1
            run = i
        }
    }

    /// `\uXXXX` (and its pair, for a surrogate), with `i` on the `u`; leaves `i` on the last digit.
    mutating func unicodeEscape() throws -> Unicode.Scalar {
        func hex4() throws -> UInt32 {
            guard bytes.count - i > 4, let v = UInt32(String(decoding: bytes[(i + 1)...(i + 4)], as: UTF8.self), radix: 16) else {
                throw error("\\u needs four hexadecimal digits")
            }
            i += 4
            return v
        }
        let at = i - 1
        let first = try hex4()
        var value = first
        if (0xD800..<0xDC00).contains(first) {
            guard bytes.count - i > 2, bytes[i + 1] == UInt8(ascii: "\\"), bytes[i + 2] == UInt8(ascii: "u") else {
                throw error("a lone UTF-16 surrogate (\\u\(String(first, radix: 16))) inside a string", at: at)
            }
            i += 2
            let second = try hex4()
            guard (0xDC00..<0xE000).contains(second) else { throw error("a lone UTF-16 surrogate inside a string", at: at) }
            value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else if (0xDC00..<0xE000).contains(first) {
            throw error("a lone UTF-16 surrogate (\\u\(String(first, radix: 16))) inside a string", at: at)
        }
        guard value != 0 else { throw error("\\u0000 (NUL) inside a string: text here cannot hold NUL", at: at) }
        return Unicode.Scalar(value)!
    }
}

// MARK: Decoding

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue!)" }
    init(_ k: Int) { intValue = k }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private func mismatch(_ type: Any.Type, _ node: JSONNode, _ path: [CodingKey]) -> DecodingError {
    .typeMismatch(type, .init(codingPath: path, debugDescription: node.found))
}

/// One value of a parsed document, decoded as `Decodable` types ask.
private struct NodeDecoder: Decoder {
    let node: JSONNode
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = node else { throw mismatch([String: Any].self, node, codingPath) }
        return KeyedDecodingContainer(KeyedNodes<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = node else { throw mismatch([Any].self, node, codingPath) }
        return UnkeyedNodes(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleNode(node: node, codingPath: codingPath) }
}

private struct SingleNode: SingleValueDecodingContainer {
    let node: JSONNode
    let codingPath: [CodingKey]

    func decodeNil() -> Bool { if case .null = node { true } else { false } }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = node else { throw mismatch(type, node, codingPath) }
        return b
    }
    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = node else { throw mismatch(type, node, codingPath) }
        return s
    }
    func decode(_ type: Double.Type) throws -> Double {
        guard case .number(let n) = node, let d = Double(n), d.isFinite else { throw mismatch(type, node, codingPath) }
        return d
    }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    /// An integer is a number without a fraction (as JSON Schema counts them: 72.0 and 1e3
    /// are integers); 1.5, and 300 for an Int8, are refused, saying so.
    func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard case .number(let n) = node else { throw mismatch(type, node, codingPath) }
        guard let whole = JSONNode.integer(n) else { throw mismatch(type, node, codingPath) }
        if let v = T(exactly: whole) { return v }
        throw DecodingError.dataCorrupted(.init(codingPath: codingPath,
                                                debugDescription: "\(n) is out of range (\(T.min) to \(T.max))"))
    }
    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: NodeDecoder(node: node, codingPath: codingPath)) }
}

private struct KeyedNodes<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONNode]
    let codingPath: [CodingKey]

    var allKeys: [Key] { members.keys.sorted().compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    func node(_ key: Key) throws -> JSONNode {
        guard let n = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "required, missing"))
        }
        return n
    }
    func single(_ key: Key) throws -> SingleNode { SingleNode(node: try node(key), codingPath: codingPath + [key]) }

    func decodeNil(forKey key: Key) throws -> Bool { try single(key).decodeNil() }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try single(key).decode(type) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try single(key).decode(type) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try single(key).decode(type) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try single(key).decode(type) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try single(key).decode(type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try single(key).decode(type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try single(key).decode(type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try single(key).decode(type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try single(key).decode(type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try single(key).decode(type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try single(key).decode(type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try single(key).decode(type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try single(key).decode(type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try single(key).decode(type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try single(key).decode(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoder(node: try node(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try NodeDecoder(node: try node(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    func superDecoder() throws -> Decoder { NodeDecoder(node: .object(members), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> Decoder { NodeDecoder(node: try node(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedNodes: UnkeyedDecodingContainer {
    let items: [JSONNode]
    let codingPath: [CodingKey]
    var currentIndex = 0

    init(items: [JSONNode], codingPath: [CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next() throws -> SingleNode {
        let path = codingPath + [IndexKey(currentIndex)]
        guard !isAtEnd else { throw DecodingError.valueNotFound(Any.self, .init(codingPath: path, debugDescription: "the array ends")) }
        defer { currentIndex += 1 }
        return SingleNode(node: items[currentIndex], codingPath: path)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = items[currentIndex] else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode(_ type: Bool.Type) throws -> Bool { try next().decode(type) }
    mutating func decode(_ type: String.Type) throws -> String { try next().decode(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next().decode(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next().decode(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next().decode(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next().decode(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next().decode(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next().decode(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next().decode(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next().decode(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next().decode(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next().decode(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next().decode(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next().decode(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let n = try next()
        return try NodeDecoder(node: n.node, codingPath: n.codingPath).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let n = try next()
        return try NodeDecoder(node: n.node, codingPath: n.codingPath).unkeyedContainer()
    }
    mutating func superDecoder() throws -> Decoder {
        let n = try next()
        return NodeDecoder(node: n.node, codingPath: n.codingPath)
    }
}
