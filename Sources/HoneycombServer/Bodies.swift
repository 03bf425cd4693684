import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombLive

/// Any JSON value: task inputs and outputs, agent profiles.
public enum JSONValue: Codable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Compact JSON text, for the store. PostgreSQL's jsonb refuses the NUL character, so a
    /// value holding one is refused here, with the reason, before anything is written.
    func text(field: String) throws -> String {
        if containsNUL { throw Problem.badRequest("\(field): strings may not contain the NUL character (\\u0000)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    private var containsNUL: Bool {
        switch self {
        case .string(let s): s.unicodeScalars.contains("\0")
        case .array(let a): a.contains { $0.containsNUL }
        case .object(let o): o.contains { $0.key.unicodeScalars.contains("\0") || $0.value.containsNUL }
        default: false
        }
    }
}

struct UserRequest: Codable, Sendable {
    var name: String
    var role: Role
    var ttlSeconds: Int64?
}

struct TaskRequest: Codable, Sendable {
    var agent: String
    var version: String?
    var input: JSONValue?
    var priority: Int?
    var latencyTargetMs: Int?
}

struct PublishRequest: Codable, Sendable {
    var version: String
    var description: String?
    var cpuMillis: Int64
    var memoryBytes: Int64
    var labels: [String: String]?
    var maxAttempts: Int?
    var profile: JSONValue?
    /// The WASM bundle, base64.
    var bundle: String
    /// Ed25519 signature of the bundle's bytes, hex.
    var signature: String
    /// The publisher's Ed25519 public key, hex.
    var publisherKey: String
}

/// Up to 1,000 tasks, accepted all together or not at all.
struct TaskBatchRequest: Codable, Sendable {
    var tasks: [TaskRequest]
}

/// Several reports of one executor (the reference executor sends its reports this way).
struct ReportsRequest: Codable, Sendable {
    var reports: [Report]

    struct Report: Codable, Sendable {
        var task: Int64
        var attempt: Int
        /// `start` or `result`.
        var kind: String
        var succeeded: Bool?
        var output: JSONValue?

        init(task: Int64, attempt: Int, kind: String, succeeded: Bool? = nil, output: JSONValue? = nil) {
            self.task = task
            self.attempt = attempt
            self.kind = kind
            self.succeeded = succeeded
            self.output = output
        }
    }
}

/// How a routed LLM call ended.
struct LLMCompletion: Codable, Sendable {
    var succeeded: Bool
    var inputTokens: Int?
    var outputTokens: Int?
    /// A refusal's Retry-After, in milliseconds.
    var retryAfterMs: Int?
}

struct EnrollRequest: Codable, Sendable {
    var enrollmentToken: String
    var name: String
}

struct ProgressRequest: Codable, Sendable {
    var fraction: Double
}

struct ResultRequest: Codable, Sendable {
    var succeeded: Bool
    var output: JSONValue?
}

/// Checks of names and numbers that come from clients.
enum Check {
    /// Names of agents, versions, users and executors: 1–128 of letters, digits, `-_.`.
    static func name(_ s: String, _ field: String) throws {
        guard (1...128).contains(s.utf8.count),
              s.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }),
              s != ".", s != ".." else {
            throw Problem.badRequest("\(field): expected 1 to 128 letters, digits, '-', '_' or '.', found \"\(s.prefix(40))\"")
        }
    }

    static func range<T: Comparable>(_ v: T, _ r: ClosedRange<T>, _ field: String) throws {
        guard r.contains(v) else { throw Problem.badRequest("\(field): expected a value in \(r.lowerBound)...\(r.upperBound), found \(v)") }
    }
}
