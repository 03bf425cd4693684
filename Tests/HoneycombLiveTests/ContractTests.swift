import Foundation
import HoneycombAPI
import HoneycombDriver
import HoneycombFleet
import HoneycombLive
import Testing

/// Schemathesis 4 (`--checks all`, with the document's stateful links) against a real
/// `honeycomb serve`: as a user, as an admin, and the executors' routes as an enrolled
/// executor with valid and with invalid data (deploy/contract/). Zero failures: every
/// request the document admits is taken, every one it refuses is refused, every answer has
/// the documented status, media type and schema, a wrong method is a 405 with `Allow`.
///
/// It keeps both cores busy for a minute (schemathesis and serve), which would starve the
/// other live tests' heartbeats, so it runs only when asked (HONEYCOMB_CONTRACT=1), in a
/// process of its own (deploy/local/run-tests.sh).
@Suite(.enabled(if: LiveEnvironment.available && LiveEnvironment.env["HONEYCOMB_CONTRACT"] == "1",
                "the contract test runs alone: HONEYCOMB_CONTRACT=1, as the README's test command sets"), .serialized)
struct ContractTests {
    /// Test cases per operation and mode.
    static let examples = 40

    @Test func schemathesisFindsNothingAsUserAdminAndExecutor() async throws {
        let serve = try await ServeProcess.prepare("contract")
        let port = ServeProcess.freePort()
        let server = try await serve.start(port: port)
        defer { server.terminate(); server.waitUntilExit() }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let admin = APIClient(base: base, token: try serve.token("root", .admin))
        let alice = admin.with(token: try serve.token("alice", .user))
        // "0" is the name a schema's generator draws first (the shortest the pattern admits):
        // with it published, generated submissions are taken, and the links from them to
        // reading, cancelling and explaining the task are followed.
        let publisher = try Ed25519PrivateKey()
        for agent in ["0", "echo"] { try await ServeProcess.publish(agent, as: alice, publisher: publisher) }
        // An executor of its own, enrolled and registered.
        let enrollment: [String: JSONValue] = try await admin.call("POST", "/v1/enrollment-tokens")
        guard case .string(let once)? = enrollment["token"] else { Issue.record("no enrollment token"); return }
        let enrolled: [String: JSONValue] = try await APIClient(base: base).call(
            "POST", "/v1/executors/enroll", json: EnrollRequest(enrollmentToken: once, name: "contract-executor"))
        guard case .number(let id)? = enrolled["id"], case .string(let executorToken)? = enrolled["token"] else {
            Issue.record("enrollment answered \(enrolled)"); return
        }
        let executor = admin.with(token: executorToken)
        let _: [String: JSONValue] = try await executor.call("POST", "/v1/executors/\(Int(id))/register", json: ExecutorSpecBody(
            labels: [:], cpuMillis: 4000, memoryBytes: 8 << 30, slots: 4))

        let (status, document) = try await admin.send("GET", "/openapi.json")
        #expect(status == 200)
        let documentFile = serve.dir.appendingPathComponent("openapi.json")
        try document.write(to: documentFile)
        let contract = ServeProcess.root.appendingPathComponent("deploy/contract")
        var env = ProcessInfo.processInfo.environment
        env["HC_ADMIN_TOKEN"] = admin.token!
        env["HC_EXECUTOR_TOKEN"] = executorToken
        env["HC_EXECUTOR_ID"] = String(Int(id))
        env["PYTHONPATH"] = contract.path
        let runs: [(name: String, config: String, token: String, only: String?)] = [
            ("user", "schemathesis.toml", alice.token!, nil),
            ("admin", "schemathesis.toml", admin.token!, nil),
            ("executor, invalid data", "executor-negative.toml", executorToken,
             "^/v1/(executors/\\{id\\}/(register|heartbeat|reports|tasks/.*)|llm/calls/.*)$"),
        ]
        for run in runs {
            env["HC_TOKEN"] = run.token
            var arguments = ["-m", "schemathesis.cli", "--config-file", contract.appendingPathComponent(run.config).path,
                             "run", documentFile.path, "--url", base.absoluteString, "--checks", "all",
                             "--max-examples", String(Self.examples), "--workers", "2", "--seed", "1",
                             "--no-color"]
            // Alone, the executors' routes have no links to follow: no stateful phase.
            if let only = run.only { arguments += ["--include-path-regex", only, "--phases", "examples,coverage,fuzzing"] }
            let (code, output) = try Self.run("/usr/bin/env", ["python3"] + arguments, env: env, in: serve.dir)
            let summary = output.split(separator: "\n").filter { $0.contains("generated,") || $0.contains("API Links:") }
            print("contract (\(run.name)): \(summary.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " "))")
            #expect(code == 0, "schemathesis as \(run.name) failed (exit \(code)):\n\(output.suffix(6000))")
        }
    }

    /// Runs a program to its end; its exit code and its output and errors together.
    static func run(_ program: String, _ arguments: [String], env: [String: String], in dir: URL) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        p.environment = env
        p.currentDirectoryURL = dir
        let out = dir.appendingPathComponent("schemathesis-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitUntilExit()
        try handle.close()
        return (p.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "")
    }
}
