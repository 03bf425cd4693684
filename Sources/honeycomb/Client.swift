import ArgumentParser
import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombFleet
import HoneycombLive

// The client commands people and scripts use against a running `honeycomb serve`. Each one is
// a call or two of the API: the service decides and checks everything (one statement of each
// rule), the client turns flags into a request and the answer into a table or JSON. Failures
// print the problem's detail and exit with a status scripts can tell apart (`ClientExit`).

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Where the service is, who is calling, and how to print the answer.
struct ClientOptions: ParsableArguments {
    @Option(help: "The service's base URL ($HONEYCOMB_URL, else the config file `honeycomb login` writes, else \(ClientProfile.defaultServer)).")
    var server: String?
    @Option(help: "A bearer token ($HONEYCOMB_TOKEN, else the config file).") var token: String?
    @Option(help: "table or json (the service's answer, indented).") var output: OutputFormat = .table

    /// Runs `body` with a client of the resolved profile; a `ClientFailure` is printed and
    /// becomes the exit status.
    func run(_ body: (APIClient) async throws -> Void) async throws {
        try await reportingFailures { try await body(try ClientProfile.resolve(server: server, token: token).client()) }
    }

    /// Prints `value` as JSON, or the table made of it.
    func emit(_ value: JSONValue, table: () -> String) {
        print(output == .json ? value.prettyText : table())
    }
}

/// Runs `body`; a `ClientFailure` is printed and becomes the exit status.
func reportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as ClientFailure {
        printError("error: \(failure.description)")
        throw ExitCode(failure.exit.rawValue)
    }
}

/// A JSON value given on the command line: inline text, or `@FILE` (`@-` for standard input).
func jsonArgument(_ text: String, _ flag: String) throws -> JSONValue {
    var data = Data(text.utf8)
    if text.hasPrefix("@") {
        let path = String(text.dropFirst())
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw ClientFailure(.badInput, "\(flag): cannot read \(path): \(error.localizedDescription)")
            }
        }
    }
    do { return try JSONDecoder().decode(JSONValue.self, from: data) } catch {
        let shown = String(decoding: data.prefix(60), as: UTF8.self)
        throw ClientFailure(.badInput, "\(flag) is not JSON: \(shown)\(data.count > 60 ? "…" : "")")
    }
}

/// `key=value` pairs of a repeatable flag.
func pairs(_ items: [String], _ flag: String) throws -> [String: String] {
    var out: [String: String] = [:]
    for item in items {
        let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else { throw ClientFailure(.badInput, "\(flag) expects key=value, found \(item)") }
        out[String(parts[0])] = String(parts[1])
    }
    return out
}

/// A byte count: an integer, or one with a binary suffix (Ki, Mi, Gi, Ti).
func byteCount(_ text: String, _ flag: String) throws -> Int64 {
    let suffixes: [(String, Int64)] = [("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40)]
    for (s, m) in suffixes where text.hasSuffix(s) {
        if let n = Int64(text.dropLast(2)), n >= 0, n <= Int64.max / m { return n * m }
    }
    if let n = Int64(text), n >= 0 { return n }
    throw ClientFailure(.badInput, "\(flag) expects a byte count such as 268435456 or 256Mi, found \(text)")
}

/// A path segment, percent-encoded.
func segment(_ s: String) -> String {
    s.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? s
}

/// A path with a query of the given (non-nil) parameters.
func withQuery(_ path: String, _ items: [(String, String?)]) -> String {
    let present = items.compactMap { k, v in v.map { "\(segment(k))=\(segment($0))" } }
    return present.isEmpty ? path : path + "?" + present.joined(separator: "&")
}

/// The `items` of a paged list from `after` on: one page, or every page (`all`), and the
/// `next` that continues it (nil at the end).
func pages(_ client: APIClient, _ path: String, _ query: [(String, String?)], items: String, after: Int64?,
           all: Bool) async throws -> (items: [JSONValue], next: JSONValue?) {
    var out: [JSONValue] = []
    var after = after
    var next: JSONValue?
    repeat {
        let page = try await client.request("GET", withQuery(path, query + [("after", after.map(String.init))]))
        out += page[items]?.elements ?? []
        next = page["next"]
        if case .number(let n)? = next { after = Int64(n) } else { next = nil }
    } while all && next != nil
    return (out, next)
}

extension JSONValue {
    /// A one-row table of these members (headed by their names in capitals, unless given).
    func row(_ keys: [String], _ header: [String]? = nil) -> String {
        tableText(header ?? keys.map { $0.uppercased() }, [keys.map { self[$0]?.cell ?? "" }])
    }
}

// MARK: - login

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save the server and a token in the config file (mode 0600) for the other client commands.",
        discussion: "The token is checked against the server first; nothing is written if it is refused. "
            + "The file is $HONEYCOMB_CONFIG, else $XDG_CONFIG_HOME/honeycomb/config.json, else ~/.config/honeycomb/config.json.")

    @Option(help: "The service's base URL ($HONEYCOMB_URL; default \(ClientProfile.defaultServer)).") var server: String?
    @Option(help: "The token ($HONEYCOMB_TOKEN); `-` reads it from standard input.") var token: String?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        var token = token ?? env["HONEYCOMB_TOKEN"]
        if token == "-" {
            token = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try await reportingFailures {
            guard let token, !token.isEmpty else {
                throw ClientFailure(.unauthorized, "give --token (or `--token -` to read it from standard input), or set HONEYCOMB_TOKEN")
            }
            let profile = ClientProfile(server: server ?? env["HONEYCOMB_URL"] ?? ClientProfile.defaultServer, token: token)
            // Any call a user or an admin may make proves the token.
            _ = try await profile.client().request("GET", "/v1/tasks?limit=1")
            let path = ClientProfile.configPath()
            try profile.save(to: path)
            var who = ""
            if let claims = peekClaims(token) {
                let expires = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(claims.exp)))
                who = " as \(claims.sub) (\(claims.role.rawValue)); the token expires \(expires)"
            }
            print("Logged in to \(profile.server)\(who). Saved in \(path).")
        }
    }
}

struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove the config file `honeycomb login` wrote.")

    func run() throws {
        let path = ClientProfile.configPath()
        if FileManager.default.fileExists(atPath: path) {
            try FileManager.default.removeItem(atPath: path)
            print("Removed \(path).")
        } else {
            print("Not logged in (no \(path)).")
        }
    }
}

// MARK: - tasks

struct Tasks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit tasks, read them, follow them, cancel them, ask why they wait.",
        subcommands: [Submit.self, Get.self, List.self, Cancel.self, Explain.self, Watch.self])

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a task of an agent.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The agent's name.") var agent: String
        @Option(help: "The agent's version (default: its latest).") var version: String?
        @Option(help: "The task's input: JSON, or @FILE, or @- for standard input.") var input: String?
        @Option(help: "Higher runs first (-128 to 127; default 0).") var priority: Int?
        @Option(name: .customLong("latency-target-ms"), help: "The latency the task asks for.") var latencyTargetMs: Int?
        @Option(name: .customLong("idempotency-key"), help: "Send again with the same key and the task is submitted once.")
        var idempotencyKey: String?
        @Flag(help: "Then follow it until it ends (as `tasks watch`).") var watch = false
        @Option(help: "With --watch: seconds between polls.") var interval = 1.0

        func run() async throws {
            try await options.run { client in
                let body = TaskRequest(agent: agent, version: version, input: try input.map { try jsonArgument($0, "--input") },
                                       priority: priority, latencyTargetMs: latencyTargetMs)
                let answer = try await client.request("POST", "/v1/tasks", json: body,
                                                      headers: idempotencyKey.map { ["Idempotency-Key": $0] } ?? [:])
                if watch, case .number(let id)? = answer["id"] {
                    if options.output == .table { print("submitted task \(answer["id"]!.cell)") }
                    try await Watch.follow(client, Int64(id), interval: interval, timeout: nil, output: options.output)
                } else {
                    options.emit(answer) { answer.row(["id", "state"]) }
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a task, its status history and its latest result.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The task's id.") var id: Int64

        func run() async throws {
            try await options.run { client in
                let task = try await client.request("GET", "/v1/tasks/\(id)")
                options.emit(task) { Tasks.detail(task) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tasks, oldest first (a user sees their own).")

        @OptionGroup var options: ClientOptions
        @Option(help: "Only tasks in this state.") var state: String?
        @Option(help: "Only tasks of this agent.") var agent: String?
        @Option(help: "Only this user's tasks (admins).") var user: String?
        @Option(help: "At most this many per page (1 to 1000; default 100).") var limit: Int?
        @Option(help: "Tasks after this id (a page's next).") var after: Int64?
        @Flag(help: "Every page, not only the first.") var all = false

        func run() async throws {
            try await options.run { client in
                let (tasks, next) = try await pages(client, "/v1/tasks", [
                    ("state", state), ("agent", agent), ("user", user), ("limit", limit.map(String.init)),
                ], items: "tasks", after: after, all: all)
                var value: [String: JSONValue] = ["tasks": .array(tasks)]
                if let next { value["next"] = next }
                options.emit(.object(value)) {
                    tableText(["ID", "AGENT", "VERSION", "STATE", "ATTEMPT", "EXECUTOR", "USER", "SUBMITTED"], tasks.map { t in
                        ["id", "agent", "version", "state", "attempt", "executor", "user", "submittedAt"].map { t[$0]?.cell ?? "" }
                    })
                }
                if let next, options.output == .table { printError("more: --after \(next.cell) (or --all)") }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a task.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The task's id.") var id: Int64

        func run() async throws {
            try await options.run { client in
                let answer = try await client.request("POST", "/v1/tasks/\(id)/cancel")
                options.emit(answer) { answer.row(["id", "state"]) }
            }
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Explain why a task waits: what each placement filter removed.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The task's id.") var id: Int64

        func run() async throws {
            try await options.run { client in
                let e = try await client.request("GET", "/v1/tasks/\(id)/explain")
                options.emit(e) {
                    var parts = ["state \(e["state"]?.cell ?? ""); \(e["executors"]?.cell ?? "0") executors"]
                    if case .object(let removed)? = e["removedBy"], !removed.isEmpty {
                        parts.append(tableText(["FILTER", "REMOVED"], removed.sorted { $0.key < $1.key }.map { [$0.key, $0.value.cell] }))
                    }
                    let best = e["best"]?.elements ?? []
                    if !best.isEmpty { parts.append(tableText(["EXECUTOR", "SCORE"], best.map { [$0["executor"]?.cell ?? "", $0["score"]?.cell ?? ""] })) }
                    if let reason = e["reason"]?.cell, !reason.isEmpty { parts.append("reason: \(reason)") }
                    parts.append("hint: \(e["hint"]?.cell ?? "")")
                    return parts.joined(separator: "\n\n")
                }
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow a task until it ends, printing each change of its history.",
            discussion: "Exits 0 when the task succeeded, \(ClientExit.taskDidNotSucceed.rawValue) when it ended otherwise "
                + "(failed, lost, cancelled), \(ClientExit.timedOut.rawValue) when --timeout passed first. "
                + "While the service is unavailable it keeps asking.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The task's id.") var id: Int64
        @Option(help: "Seconds between polls.") var interval = 1.0
        @Option(help: "Give up after this many seconds (default: never).") var timeout: Double?

        func validate() throws {
            guard interval > 0 else { throw ValidationError("--interval must be positive") }
            if let timeout, timeout <= 0 { throw ValidationError("--timeout must be positive") }
        }

        func run() async throws {
            try await options.run { client in
                try await Self.follow(client, id, interval: interval, timeout: timeout, output: options.output)
            }
        }

        /// Polls the task until it is in a terminal state, printing history rows as they appear.
        static func follow(_ client: APIClient, _ id: Int64, interval: Double, timeout: Double?, output: OutputFormat) async throws {
            let start = ContinuousClock.now
            var shown = 0
            var unavailable = false
            while true {
                let task: JSONValue
                do {
                    task = try await client.request("GET", "/v1/tasks/\(id)")
                    unavailable = false
                } catch let failure as ClientFailure where failure.exit == .unavailable {
                    if !unavailable { printError("waiting: \(failure.description)") }
                    unavailable = true
                    try await pause(interval, start: start, timeout: timeout, id: id)
                    continue
                }
                let history = task["history"]?.elements ?? []
                if output == .table {
                    for row in history.dropFirst(shown) {
                        var line = "\(row["at"]?.cell ?? "")  \(row["state"]?.cell ?? "")"
                        if let a = row["attempt"]?.cell, a != "0" { line += "  attempt \(a)" }
                        if let e = row["executor"]?.cell, !e.isEmpty { line += "  executor \(e)" }
                        print(line)
                    }
                }
                shown = max(shown, history.count)
                let state = task["state"]?.cell ?? ""
                if let s = TaskState.allCases.first(where: { $0.description == state }), s.isTerminal {
                    if output == .json {
                        print(task.prettyText)
                    } else if let result = task["result"], let out = result["output"], out != .null {
                        print("output: \(out.compactText)")
                    }
                    guard s == .succeeded else { throw ClientFailure(.taskDidNotSucceed, "task \(id) ended \(state)") }
                    return
                }
                try await pause(interval, start: start, timeout: timeout, id: id)
            }
        }

        static func pause(_ interval: Double, start: ContinuousClock.Instant, timeout: Double?, id: Int64) async throws {
            if let timeout, start.duration(to: .now) + .seconds(interval) > .seconds(timeout) {
                throw ClientFailure(.timedOut, "task \(id) had not ended after \(timeout) s")
            }
            try await Task.sleep(for: .seconds(interval))
        }
    }

    /// A task as a person reads it: its fields, its history, its result.
    static func detail(_ task: JSONValue) -> String {
        let fields: [(String, String)] = [("id", "id"), ("agent", "agent"), ("version", "version"), ("user", "user"),
                                          ("state", "state"), ("attempt", "attempt"), ("executor", "executor"),
                                          ("priority", "priority"), ("latency target ms", "latencyTargetMs"),
                                          ("submitted", "submittedAt"), ("updated", "updatedAt"), ("input", "input")]
        var parts = [tableText(["FIELD", "VALUE"], fields.compactMap { label, key in
            task[key].flatMap { $0 == .null ? nil : [label, $0.cell] }
        })]
        let history = task["history"]?.elements ?? []
        if !history.isEmpty {
            parts.append(tableText(["AT", "STATE", "ATTEMPT", "EXECUTOR"], history.map { h in
                ["at", "state", "attempt", "executor"].map { h[$0]?.cell ?? "" }
            }))
        }
        if let r = task["result"], r != .null {
            parts.append(tableText(["RESULT OF ATTEMPT", "SUCCEEDED", "REPORTED", "OUTPUT"],
                                   [["attempt", "succeeded", "reportedAt", "output"].map { r[$0]?.cell ?? "" }]))
        }
        return parts.joined(separator: "\n\n")
    }
}

// MARK: - agents

struct Agents: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Publish agents and browse the marketplace.",
                                                    subcommands: [Publish.self, List.self])

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish a version of an agent: its WASM bundle, signed here with the publisher's key.",
            discussion: "The key is a file of 64 hex digits (`honeycomb keygen --out FILE`); every version of an agent "
                + "must be signed by the key that signed its first.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The agent's name.") var name: String
        @Option(help: "The version's name (1, 2.0.1, ...).") var version: String
        @Option(help: "The WASM module.") var bundle: String
        @Option(help: "The publisher's key file (Ed25519 seed, hex).") var key: String
        @Option(name: .customLong("cpu-millis"), help: "CPU a task of it needs, in thousandths of a core.") var cpuMillis: Int64
        @Option(name: .customLong("memory"), help: "Memory a task of it needs: bytes, or 256Mi, 2Gi.") var memory: String
        @Option(help: "A label an executor must carry, key=value (repeatable).") var label: [String] = []
        @Option(name: .customLong("max-attempts"), help: "Attempts before a task of it fails (default: the policy's).")
        var maxAttempts: Int?
        @Option(help: "A description for the marketplace.") var description: String?
        @Option(help: "The version's profile, JSON or @FILE (how long its tasks run, the LLM calls they make).")
        var profile: String?

        func run() async throws {
            try await options.run { client in
                let signer: Ed25519PrivateKey
                do { signer = try Ed25519PrivateKey(file: key) } catch {
                    throw ClientFailure(.badInput, "--key \(key): \(error)")
                }
                let bytes: [UInt8]
                do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: bundle))) } catch {
                    throw ClientFailure(.badInput, "--bundle: cannot read \(bundle): \(error.localizedDescription)")
                }
                let labels = try pairs(label, "--label")
                let body = PublishRequest(
                    version: version, description: description, cpuMillis: cpuMillis, memoryBytes: try byteCount(memory, "--memory"),
                    labels: labels.isEmpty ? nil : labels, maxAttempts: maxAttempts,
                    profile: try profile.map { try jsonArgument($0, "--profile") }, bundle: Data(bytes).base64EncodedString(),
                    signature: Encoding.hex(try signer.sign(bytes)), publisherKey: Encoding.hex(signer.publicKey.raw))
                let answer = try await client.request("POST", "/v1/agents/\(segment(name))/versions", json: body)
                options.emit(answer) {
                    answer.row(["agent", "version", "sha256"])
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the marketplace: every agent and its versions.")

        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await options.run { client in
                let answer = try await client.request("GET", "/v1/agents")
                var rows: [[String]] = []
                for agent in answer["agents"]?.elements ?? [] {
                    for v in agent["versions"]?.elements ?? [] {
                        let cells: [String] = ["version", "bundleBytes", "cpuMillis", "memoryBytes", "publishedAt"].map { v[$0]?.cell ?? "" }
                        let digest = String((v["sha256"]?.cell ?? "").prefix(12))
                        rows.append([agent["name"]?.cell ?? ""] + cells + [digest, agent["description"]?.cell ?? ""])
                    }
                }
                options.emit(answer) {
                    tableText(["AGENT", "VERSION", "BYTES", "CPU MILLIS", "MEMORY BYTES", "PUBLISHED", "SHA256", "DESCRIPTION"], rows)
                }
            }
        }
    }
}

// MARK: - executors, users, enrollment tokens

struct Executors: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "See the fleet and drain executors (admins).",
                                                    subcommands: [List.self, Drain.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List enrolled executors with their presence and load, a page at a time.")

        @OptionGroup var options: ClientOptions
        @Option(help: "At most this many a page (the server's default when left out: 100).") var limit: Int?
        @Option(help: "Executors after this id (a page's `next`).") var after: Int64?
        @Flag(help: "Every page, not only the first.") var all = false

        func run() async throws {
            try await options.run { client in
                let (executors, next) = try await pages(client, "/v1/executors", [("limit", limit.map(String.init))],
                                                        items: "executors", after: after, all: all)
                var value: [String: JSONValue] = ["executors": .array(executors)]
                if let next { value["next"] = next }
                options.emit(.object(value)) {
                    tableText(["ID", "NAME", "STATE", "PRESENT", "SLOTS", "USED", "TASKS", "CPU MILLIS", "MEMORY BYTES", "LABELS"],
                              executors.map { e in
                        ["id", "name", "state", "present", "slots", "usedSlots", "tasks", "cpuMillis", "memoryBytes"].map { e[$0]?.cell ?? "" }
                            + [Executors.labels(e["labels"])]
                    })
                }
                if let next, options.output == .table { printError("more: --after \(next.cell) (or --all)") }
            }
        }
    }

    struct Drain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drain an executor: it takes no new work; its running tasks finish.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The executor's id.") var id: Int64

        func run() async throws {
            try await options.run { client in
                let answer = try await client.request("POST", "/v1/executors/\(id)/drain")
                options.emit(answer) { answer.row(["id", "state"]) }
            }
        }
    }

    static func labels(_ value: JSONValue?) -> String {
        guard case .object(let o)? = value else { return "" }
        return o.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.cell)" }.joined(separator: ",")
    }
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create users (admins).", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user and print their token.")

        @OptionGroup var options: ClientOptions
        @Argument(help: "The user's name.") var name: String
        @Option(help: "user or admin.") var role = "user"
        @Option(help: "The token's lifetime in seconds (default: a day).") var ttl: Int64?

        func run() async throws {
            try await options.run { client in
                guard let r = Role(rawValue: role), r != .executor else {
                    throw ClientFailure(.badInput, "--role must be user or admin, not \(role) (executors enroll instead)")
                }
                let answer = try await client.request("POST", "/v1/users", json: UserRequest(name: name, role: r, ttlSeconds: ttl))
                options.emit(answer) {
                    answer.row(["name", "role", "token"])
                }
            }
        }
    }
}

struct EnrollmentTokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enrollment-tokens",
                                                    abstract: "Create one-time tokens executors enroll with (admins).",
                                                    subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a one-time enrollment token, valid for an hour.")

        @OptionGroup var options: ClientOptions

        func run() async throws {
            try await options.run { client in
                let answer = try await client.request("POST", "/v1/enrollment-tokens")
                options.emit(answer) { answer.row(["token", "expiresAt"], ["TOKEN", "EXPIRES"]) }
            }
        }
    }
}
