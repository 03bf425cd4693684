import Foundation
import HoneycombAPI
import HoneycombLive

/// What the `honeycomb` client commands exit with, so that scripts can tell failures apart.
public enum ClientExit: Int32, Sendable, CaseIterable {
    case ok = 0
    /// Anything else: a server error, an unexpected answer.
    case other = 1
    /// The request was refused as malformed or its content as invalid (400, 408, 413, 415, 422:
    /// a bad name, a bundle that is not WebAssembly), or the command's own input was.
    case badInput = 2
    /// No token, or the token was refused (401) or lacks the role (403).
    case unauthorized = 3
    /// What was named does not exist, or is not the caller's (404).
    case notFound = 4
    /// Refused in the current state (409: a name taken, a version published already).
    case refused = 5
    /// The service (or one of its dependencies) is unavailable, or does not answer (503, 429, no connection).
    case unavailable = 6
    /// `tasks watch`: the task ended, but not in success.
    case taskDidNotSucceed = 7
    /// `tasks watch --timeout`: the task had not ended in time.
    case timedOut = 124

    /// The exit for an answer's HTTP status (0: no answer at all).
    public init(status: Int) {
        switch status {
        case 200..<300: self = .ok
        case 400, 408, 413, 415, 422: self = .badInput
        case 401, 403: self = .unauthorized
        case 404: self = .notFound
        case 409: self = .refused
        case 0, 429, 502, 503, 504: self = .unavailable
        default: self = .other
        }
    }
}

/// A client command's failure: what to print, and the exit status.
public struct ClientFailure: Error, CustomStringConvertible, Sendable {
    public var exit: ClientExit
    public var description: String

    public init(_ exit: ClientExit, _ description: String) {
        self.exit = exit
        self.description = description
    }
}

/// Where the service is and who the client is: from flags, else the environment
/// (`HONEYCOMB_URL`, `HONEYCOMB_TOKEN`), else the config file `honeycomb login` writes.
public struct ClientProfile: Codable, Equatable, Sendable {
    public var server: String
    public var token: String?

    public init(server: String, token: String?) {
        self.server = server
        self.token = token
    }

    public static let defaultServer = "http://127.0.0.1:8080"

    /// The config file: `$HONEYCOMB_CONFIG`, else `$XDG_CONFIG_HOME/honeycomb/config.json`,
    /// else `~/.config/honeycomb/config.json`.
    public static func configPath(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let p = env["HONEYCOMB_CONFIG"], !p.isEmpty { return p }
        let base = env["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/.config")
        return base + "/honeycomb/config.json"
    }

    /// The saved profile, nil when there is no file. A file others may read or write is
    /// refused, since it holds a token.
    public static func load(from path: String) throws -> ClientProfile? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o077 == 0 else {
            throw ClientFailure(.badInput, "\(path) is open to others (mode \(String(mode, radix: 8))) and holds a token: "
                                + "run `chmod 600 \(path)`, or `honeycomb login` again")
        }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ClientFailure(.badInput, "\(path): cannot read it: \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(ClientProfile.self, from: data) } catch {
            throw ClientFailure(.badInput, "\(path) is not a honeycomb config file ({\"server\": ..., \"token\": ...}): run `honeycomb login`")
        }
    }

    /// Writes the profile with mode 0600 (created so, then renamed into place: never readable by
    /// others, never half written).
    public func save(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let tmp = path + ".tmp-\(getpid())"
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            guard fd >= 0 else { throw ClientFailure(.other, "cannot create \(tmp): \(String(cString: strerror(errno)))") }
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            try handle.write(contentsOf: try encoder.encode(self) + Data("\n".utf8))
            try handle.synchronize()
            try handle.close()
            guard rename(tmp, path) == 0 else {
                unlink(tmp)
                throw ClientFailure(.other, "cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))")
            }
        } catch let failure as ClientFailure {
            throw failure
        } catch {
            throw ClientFailure(.other, "cannot write \(path): \(error)")
        }
    }

    /// Flags first, then the environment, then the config file, then the defaults.
    public static func resolve(server: String?, token: String?,
                               env: [String: String] = ProcessInfo.processInfo.environment) throws -> ClientProfile {
        func nonEmpty(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
        var server = nonEmpty(server) ?? nonEmpty(env["HONEYCOMB_URL"])
        var token = nonEmpty(token) ?? nonEmpty(env["HONEYCOMB_TOKEN"])
        if server == nil || token == nil, let saved = try load(from: configPath(env)) {
            // A token saved for one server is not sent to another.
            if server == nil || server == saved.server {
                server = server ?? saved.server
                token = token ?? saved.token
            }
        }
        return ClientProfile(server: server ?? defaultServer, token: token)
    }

    /// The API client for this profile.
    public func client() throws -> APIClient {
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw ClientFailure(.badInput, "the server \(server) is not an http:// or https:// URL")
        }
        return APIClient(base: url, token: token)
    }
}

/// The unverified claims of a token (for showing who it speaks for; the server verifies).
public func peekClaims(_ token: String) -> TokenClaims? {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, let payload = Encoding.unbase64url(parts[1]) else { return nil }
    return try? JSONDecoder().decode(TokenClaims.self, from: Data(payload))
}

extension APIClient {
    /// Sends a request and returns a 2xx answer's JSON; anything else throws a `ClientFailure`
    /// carrying the problem's detail and the exit its status calls for.
    public func request(_ method: String, _ path: String, json: (any Encodable)? = nil,
                        headers: [String: String] = [:]) async throws -> JSONValue {
        let answer: (status: Int, body: Data, headers: [String: String])
        do {
            answer = try await exchange(method, path, json: json, headers: headers)
        } catch {
            throw ClientFailure(.unavailable, "cannot reach \(base.absoluteString): \(Self.reason(error))")
        }
        guard (200..<300).contains(answer.status) else {
            let problem = try? JSONDecoder().decode([String: JSONValue].self, from: answer.body)
            var message: String
            if case .string(let detail)? = problem?["detail"] {
                message = detail
            } else {
                message = "HTTP \(answer.status): " + String(decoding: answer.body.prefix(300), as: UTF8.self)
            }
            if let after = answer.headers["retry-after"] { message += " (retry after \(after) s)" }
            if answer.status == 401, token == nil {
                message += "; give --token, set HONEYCOMB_TOKEN, or run `honeycomb login`"
            }
            throw ClientFailure(ClientExit(status: answer.status), message)
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: answer.body)
        } catch {
            throw ClientFailure(.other, "\(method) \(path): the answer is not JSON: \(String(decoding: answer.body.prefix(300), as: UTF8.self))")
        }
    }

    /// The innermost reason of a transport error, without the request that `exchange` adds.
    static func reason(_ error: any Error) -> String {
        let text = (error as? APIError)?.detail ?? "\(error)"
        guard let colon = text.range(of: ": ") else { return text }
        return String(text[colon.upperBound...])
    }
}

extension JSONValue {
    /// A member of an object (nil otherwise).
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The elements of an array (empty otherwise).
    public var elements: [JSONValue] {
        if case .array(let a) = self { return a }
        return []
    }

    /// The value as a table cell: strings bare, integers without a fraction, objects and
    /// arrays as compact JSON, nothing for null.
    public var cell: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "yes" : "no"
        case .number(let n):
            if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
            return String(n)
        case .string(let s): return s
        case .array, .object: return compactText
        }
    }

    /// Compact JSON with sorted keys.
    public var compactText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// Indented JSON with sorted keys: what `--output json` prints.
    public var prettyText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// Rows under a header, in columns as wide as their widest cell (control characters shown
/// escaped, so a value cannot move the terminal's cursor).
public func tableText(_ header: [String], _ rows: [[String]]) -> String {
    func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.flatMap { c -> [Unicode.Scalar] in
            c.value < 0x20 || c.value == 0x7f ? Array(String(format: "\\u%04x", c.value).unicodeScalars) : [c]
        }))
    }
    let cells = ([header] + rows).map { $0.map(clean) }
    var widths = header.map { _ in 0 }
    for row in cells { for (i, c) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    return cells.map { row in
        row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }.joined(separator: "\n")
}
