import Foundation
import HoneycombAPI
import HoneycombFleet
import HoneycombLive
import Testing

/// The client commands (`honeycomb login`, `tasks`, `agents`, `executors`, `users`,
/// `enrollment-tokens`) run as a person runs them: the debug binary against a real `serve`
/// with reference executors, reading what it prints and how it exits.
@Suite(.enabled(if: LiveEnvironment.available, "servers not started: run the README's test command"), .serialized)
struct ClientCommandTests {
    struct Run {
        var status: Int32
        var out: String
        var err: String
        var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(out.utf8)) }
    }

    /// The binary with `args`, the environment reduced to what is given (so no token of the
    /// test's own environment leaks in).
    static func honeycomb(_ args: [String], env: [String: String], stdin: String? = nil) async throws -> Run {
        try await run(ServeProcess.root.appendingPathComponent(".build/debug/honeycomb"), args, env: env, stdin: stdin)
    }

    /// A program with `args` and exactly the environment `env` (PATH /usr/bin:/bin unless it
    /// names one), off the cooperative pool (the executors run on it).
    static func run(_ executable: URL, _ args: [String], env: [String: String], stdin: String? = nil) async throws -> Run {
        try await withCheckedThrowingContinuation { k in
            DispatchQueue.global().async {
                do {
                    let p = Process()
                    p.executableURL = executable
                    p.arguments = args
                    p.environment = env.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
                    let out = Pipe(), err = Pipe(), input = Pipe()
                    p.standardOutput = out
                    p.standardError = err
                    p.standardInput = input
                    try p.run()
                    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
                    try input.fileHandleForWriting.close()
                    // Both read while it runs, so that neither pipe fills.
                    final class Box: @unchecked Sendable { var data = Data() }
                    let e = Box()
                    let done = DispatchSemaphore(value: 0)
                    DispatchQueue.global().async { e.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }
                    let o = out.fileHandleForReading.readDataToEndOfFile()
                    done.wait()
                    p.waitUntilExit()
                    k.resume(returning: Run(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self),
                                            err: String(decoding: e.data, as: UTF8.self)))
                } catch {
                    k.resume(throwing: error)
                }
            }
        }
    }

    @Test func aPersonRunsTheFleetFromTheCommandLine() async throws {
        let serve = try await ServeProcess.prepare("client")
        let port = ServeProcess.freePort()
        let server = try await serve.start(port: port)
        defer { server.terminate(); server.waitUntilExit() }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let dir = serve.dir
        let config = dir.appendingPathComponent("home/honeycomb.json").path
        let env = ["HONEYCOMB_CONFIG": config, "HOME": dir.path]
        func hc(_ args: String..., token: String? = nil, stdin: String? = nil) async throws -> Run {
            var e = env
            if let token { e["HONEYCOMB_TOKEN"] = token }
            return try await Self.honeycomb(args, env: e, stdin: stdin)
        }
        let admin = try serve.token("root", .admin)

        // A token signed by another key is refused, and nothing is saved.
        let forged = try TokenAuthority(signingKey: try Ed25519PrivateKey()).issue(subject: "root", role: .admin, ttl: 3600)
        let refused = try await hc("login", "--server", base.absoluteString, "--token", forged)
        #expect(refused.status == ClientExit.unauthorized.rawValue)
        #expect(refused.err.hasPrefix("error: ") && refused.err.contains("signature"), "\(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: config))

        // Logged in (the token read from standard input): the file is the owner's alone.
        let login = try await hc("login", "--server", base.absoluteString, "--token", "-", stdin: admin + "\n")
        #expect(login.status == 0, "\(login.err)")
        #expect(login.out.contains("as root (admin)"), "\(login.out)")
        let mode = try FileManager.default.attributesOfItem(atPath: config)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        // A config file others may read is refused, with what to do.
        chmod(config, 0o644)
        let open = try await hc("tasks", "list")
        #expect(open.status == ClientExit.badInput.rawValue && open.err.contains("chmod 600"), "\(open.err)")
        chmod(config, 0o600)

        // Users and enrollment tokens (admin, from the saved login).
        let created = try await hc("users", "create", "alice", "--output", "json")
        #expect(created.status == 0, "\(created.err)")
        guard case .string(let alice)? = created.json?["token"] else { Issue.record("no token in \(created.out)"); return }
        let enrollment = try await hc("enrollment-tokens", "create")
        #expect(enrollment.status == 0 && enrollment.out.contains("hce_"), "\(enrollment.err)")
        let notAdmin = try await hc("users", "create", "mallory", "--role", "admin", "--token", alice)
        #expect(notAdmin.status == ClientExit.unauthorized.rawValue && !notAdmin.err.isEmpty)

        // Publishing signs the bundle with the key file; a version cannot be published twice.
        let key = dir.appendingPathComponent("publisher.key").path
        #expect(try await hc("keygen", "--out", key).status == 0)
        let bundle = dir.appendingPathComponent("echo.wasm")
        let bytes = LiveHarness.wasm("echo")
        try Data(bytes).write(to: bundle)
        let publish = ["agents", "publish", "--bundle", bundle.path, "--key", key, "--cpu-millis", "10", "--memory", "1Mi",
                       "--token", alice]
        let echo = try await Self.honeycomb(publish + ["echo", "--version", "1", "--profile", #"{"runtimeMs": 30}"#,
                                                      "--description", "Says it back"], env: env)
        #expect(echo.status == 0, "\(echo.err)")
        #expect(echo.out.contains(Encoding.hex(Digest.sha256(bytes))), "\(echo.out)")
        let again = try await Self.honeycomb(publish + ["echo", "--version", "1"], env: env)
        #expect(again.status == ClientExit.refused.rawValue && again.err.contains("immutable"), "\(again.err)")
        for (agent, extra) in [("flop", ["--profile", #"{"runtimeMs": 10, "failure": 1}"#, "--max-attempts", "1"]),
                               ("picky", ["--label", "gpu=h100"])] {
            let r = try await Self.honeycomb(publish + [agent, "--version", "1"] + extra, env: env)
            #expect(r.status == 0, "\(r.err)")
        }
        let tampered = try await Self.honeycomb(["agents", "publish", "--bundle", key, "--key", key, "--cpu-millis", "10",
                                                 "--memory", "1Mi", "--token", alice, "bad", "--version", "1"], env: env)
        #expect(tampered.status == ClientExit.badInput.rawValue && tampered.err.contains("asm"), "\(tampered.err)")
        let listing = try await hc("agents", "list", "--token", alice)
        #expect(listing.status == 0 && listing.out.contains("Says it back") && listing.out.contains("picky"), "\(listing.out)")

        // The fleet: four reference executors; one drained.
        let fleet = try await ServeProcess.fleet(base, admin: serve.client(port: port).with(token: admin))
        defer { fleet.stop() }
        let executors = try await hc("executors", "list", "--output", "json")
        #expect(executors.json?["executors"]?.elements.count == 4, "\(executors.out)\(executors.err)")
        // A page at a time, or every page.
        let firstPage = try await hc("executors", "list", "--limit", "3", "--output", "json")
        #expect(firstPage.json?["executors"]?.elements.count == 3 && firstPage.json?["next"] != nil, "\(firstPage.out)\(firstPage.err)")
        let every = try await hc("executors", "list", "--limit", "3", "--all", "--output", "json")
        #expect(every.json?["executors"]?.elements.map { $0["id"] } == executors.json?["executors"]?.elements.map { $0["id"] }
                && every.json?["next"] == nil, "\(every.out)\(every.err)")
        let drain = try await hc("executors", "drain", String(fleet.ids[0]))
        #expect(drain.status == 0 && drain.out.contains("draining"), "\(drain.out)\(drain.err)")
        let table = try await hc("executors", "list")
        #expect(table.out.hasPrefix("ID") && table.out.split(separator: "\n").count == 5, "\(table.out)")

        // A task followed to its end: the history as it happens, exit 0.
        let ran = try await hc("tasks", "submit", "echo", "--input", #"{"text": "hi"}"#, "--watch", "--interval", "0.2", token: alice)
        #expect(ran.status == 0, "\(ran.out)\(ran.err)")
        #expect(ran.out.contains("submitted task") && ran.out.contains("running") && ran.out.contains("succeeded"), "\(ran.out)")
        // One that fails: watch exits 7 and says how it ended.
        let flop = try await hc("tasks", "submit", "flop", "--output", "json", token: alice)
        guard case .number(let flopID)? = flop.json?["id"] else { Issue.record("\(flop.out)\(flop.err)"); return }
        let failed = try await hc("tasks", "watch", String(Int(flopID)), "--interval", "0.2", "--timeout", "60", token: alice)
        #expect(failed.status == ClientExit.taskDidNotSucceed.rawValue && failed.err.contains("ended failed"), "\(failed.err)")
        // One no executor can take: explained, cancelled, and watch says so.
        let picky = try await hc("tasks", "submit", "picky", "--output", "json", token: alice)
        guard case .number(let pickyID)? = picky.json?["id"] else { Issue.record("\(picky.out)\(picky.err)"); return }
        let p = String(Int(pickyID))
        let explain = try await hc("tasks", "explain", p, token: alice)
        #expect(explain.status == 0 && explain.out.contains("FILTER") && explain.out.contains("hint:"), "\(explain.out)\(explain.err)")
        let cancel = try await hc("tasks", "cancel", p, token: alice)
        #expect(cancel.status == 0 && cancel.out.contains("cancelled"), "\(cancel.out)")
        let watched = try await hc("tasks", "watch", p, token: alice)
        #expect(watched.status == ClientExit.taskDidNotSucceed.rawValue && watched.err.contains("ended cancelled"))

        // Reading: alice sees her three tasks, in pages of one with --all; root's token sees them too.
        let get = try await hc("tasks", "get", String(Int(flopID)), token: alice)
        #expect(get.status == 0 && get.out.contains("failed") && get.out.contains("RESULT OF ATTEMPT"), "\(get.out)")
        let mine = try await hc("tasks", "list", "--all", "--limit", "1", "--output", "json", token: alice)
        #expect(mine.json?["tasks"]?.elements.count == 3, "\(mine.out)\(mine.err)")
        let page = try await hc("tasks", "list", "--limit", "1", token: alice)
        #expect(page.status == 0 && page.err.contains("--after"), "\(page.err)")
        let byState = try await hc("tasks", "list", "--state", "succeeded", "--user", "alice", "--output", "json")
        #expect(byState.json?["tasks"]?.elements.count == 1, "\(byState.out)\(byState.err)")

        // Bad input, said where it is wrong, with its exit status.
        for (args, exit, says) in [
            (["tasks", "submit", "echo", "--input", "{"], ClientExit.badInput, "--input is not JSON"),
            (["tasks", "submit", "bad name!"], .badInput, "agent"),
            (["tasks", "submit", "echo", "--priority", "1000"], .badInput, "priority"),
            (["tasks", "list", "--state", "sleeping"], .badInput, "state"),
            (["tasks", "get", "999999"], .notFound, "999999"),
            (["executors", "drain", "999999"], .unauthorized, "role admin"),
        ] {
            let r = try await Self.honeycomb(args, env: env.merging(["HONEYCOMB_TOKEN": alice]) { _, b in b })
            #expect(r.status == exit.rawValue, "\(args): \(r.status) \(r.err)")
            #expect(r.err.hasPrefix("error: ") && r.err.contains(says), "\(args): \(r.err)")
        }
        // A refused token, and no service at all.
        let bad = try await hc("tasks", "list", "--token", forged)
        #expect(bad.status == ClientExit.unauthorized.rawValue && bad.err.contains("signature"), "\(bad.err)")
        let away = try await hc("tasks", "list", "--server", "http://127.0.0.1:1")
        #expect(away.status == ClientExit.unavailable.rawValue && away.err.contains("cannot reach http://127.0.0.1:1"), "\(away.err)")
    }
}

/// Where the client commands take the server and token from (no servers needed).
@Suite struct ClientProfileTests {
    @Test func flagsComeBeforeTheEnvironmentWhichComesBeforeTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeycomb-profile-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("sub/config.json").path
        try ClientProfile(server: "http://saved:1", token: "saved").save(to: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let file = ["HONEYCOMB_CONFIG": path]
        #expect(try ClientProfile.resolve(server: nil, token: nil, env: file) == ClientProfile(server: "http://saved:1", token: "saved"))
        #expect(try ClientProfile.resolve(server: nil, token: "flag", env: file.merging(["HONEYCOMB_TOKEN": "env"]) { a, _ in a }).token == "flag")
        #expect(try ClientProfile.resolve(server: nil, token: nil, env: file.merging(["HONEYCOMB_TOKEN": "env"]) { a, _ in a }).token == "env")
        // The saved token is not sent to another server.
        #expect(try ClientProfile.resolve(server: "http://other:2", token: nil, env: file) == ClientProfile(server: "http://other:2", token: nil))
        #expect(try ClientProfile.resolve(server: nil, token: nil, env: ["HONEYCOMB_CONFIG": path + ".none"])
            == ClientProfile(server: ClientProfile.defaultServer, token: nil))
        #expect(ClientProfile.configPath(["XDG_CONFIG_HOME": "/x", "HOME": "/h"]) == "/x/honeycomb/config.json")
        #expect(ClientProfile.configPath(["HOME": "/h"]) == "/h/.config/honeycomb/config.json")
        chmod(path, 0o640)
        #expect(throws: ClientFailure.self) { try ClientProfile.resolve(server: nil, token: nil, env: file) }
    }

    @Test func statusesMapToExitsScriptsCanTellApart() {
        #expect([200, 400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503, 0].map { ClientExit(status: $0).rawValue }
            == [0, 2, 3, 3, 4, 5, 2, 2, 2, 6, 1, 6, 6])
        #expect(tableText(["A", "BB"], [["xyz", "1"], ["\u{1b}[2J", "2"]]) == "A          BB\nxyz        1\n\\u001b[2J  2")
    }
}
