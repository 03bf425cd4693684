import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombLive
@testable import HoneycombServer
@testable import HoneycombFleet
import HoneycombAPI
import HoneycombSim
import Testing

/// The live service end to end, against the real PostgreSQL, Redis, NATS JetStream and
/// SeaweedFS that the README's test command starts. Kept in a process of their own (see
/// deploy/local/run-tests.sh) so the simulator's CPU-bound tests do not starve them.
@Suite(.enabled(if: LiveEnvironment.available, "servers not started: run the README's test command"), .serialized)
struct LiveServiceTests {
    @Test func aTaskGoesFromSubmissionThroughDispatchToResultAndHistory() async throws {
        let h = try await LiveHarness.start()
        let fleet = try await h.fleet(2)
        try await h.publish("echo")
        let alice = h.client("alice")
        let id = try await h.submit("echo", as: alice, input: .object(["text": .string("hello \"world\"")]))
        var task = try await h.task(id, as: alice)
        #expect(try await LiveEnvironment.eventually { task = try await h.task(id, as: alice); return task.state == "succeeded" })
        #expect(task.result?.succeeded == true)
        #expect(task.attempt == 1)
        let states = task.history?.map(\.state) ?? []
        #expect(states.starts(with: ["submitted"]) && states.contains("dispatched") && states.contains("running")
                && states.last == "succeeded", "history: \(states)")
        // Listed among alice's tasks; bob sees neither the task nor it in his list.
        struct Page: Decodable { var tasks: [LiveHarness.TaskView] }
        let mine: Page = try await alice.call("GET", "/v1/tasks?state=succeeded")
        #expect(mine.tasks.map(\.id) == [id])
        let bob = h.client("bob")
        let (status, _) = try await bob.send("GET", "/v1/tasks/\(id)")
        #expect(status == 404)
        let theirs: Page = try await bob.call("GET", "/v1/tasks")
        #expect(theirs.tasks.isEmpty)
        #expect(fleet.snapshot.started == 1 && fleet.snapshot.succeeded == 1)
        // The operator's view and the audit trail.
        struct Executors: Decodable { var executors: [E]; struct E: Decodable { var id: Int64; var state: String; var present: Bool } }
        let list: Executors = try await h.admin.call("GET", "/v1/executors")
        #expect(list.executors.count == 2 && list.executors.allSatisfy { $0.state == "online" && $0.present })
        #expect(try await h.auditActions(subject: "agent/echo/1") == ["agent.published"])
        // Where an LLM call should go: these executors serve no model, so to the cloud.
        let route: [String: JSONValue] = try await alice.call("POST", "/v1/llm/route", json: LLMRouteBody(
            executor: fleet.ids[0], model: "small", promptTokens: 200, maxCompletionTokens: 100, latencyTargetMs: 5000))
        #expect(route["target"] == .string("cloud") && route["provider"] == .string("cloud"), "\(route)")
        let (unknown, _) = try await alice.send("POST", "/v1/llm/route", json: LLMRouteBody(
            executor: fleet.ids[0], model: "huge", promptTokens: 1, maxCompletionTokens: 1, latencyTargetMs: 1))
        #expect(unknown == 404)
        // Prometheus metrics, for admins only.
        let (m, text) = try await h.admin.send("GET", "/metrics")
        let exposition = String(decoding: text, as: UTF8.self)
        #expect(m == 200)
        #expect(ChaosTests.sample(exposition, "honeycomb_leader") == 1)
        for d in ["postgres", "redis", "nats", "s3"] {
            #expect(ChaosTests.sample(exposition, "honeycomb_dependency_up{dependency=\"\(d)\"}") == 1, "\(d) not up in \(exposition)")
        }
        for series in ["honeycomb_batches_total", "honeycomb_attempts_dispatched_total", "honeycomb_commit_seconds_count",
                       "honeycomb_http_requests_total", "honeycomb_executors_online"] {
            #expect((ChaosTests.sample(exposition, series) ?? 0) > 0, "\(series) not counted in \(exposition)")
        }
        #expect(exposition.contains("# HELP honeycomb_outbox_messages ") && exposition.contains("# TYPE honeycomb_batch_seconds histogram"))
        #expect(try await alice.send("GET", "/metrics").status == 403)
        fleet.stop()
        await h.stop()
    }

    @Test func anExecutorThatStopsHeartbeatingIsLostAndItsTaskRescheduled() async throws {
        let h = try await LiveHarness.start(heartbeatTimeout: 1.5)
        try await h.publish("slow", profile: ["runtimeMs": .number(1500), "distribution": .string("fixed")])
        let first = try await h.fleet(1, prefix: "first", heartbeat: 0.3)
        let alice = h.client("alice")
        let id = try await h.submit("slow", as: alice)
        #expect(try await LiveEnvironment.eventually { try await h.task(id, as: alice).state == "running" })
        let second = try await h.fleet(1, prefix: "second", heartbeat: 0.3)
        first.kill(index: 0)
        var task = try await h.task(id, as: alice)
        #expect(try await LiveEnvironment.eventually { task = try await h.task(id, as: alice); return task.state == "succeeded" })
        let trail = (task.history ?? []).map { "\($0.state)#\($0.attempt)@\($0.executor.map(String.init) ?? "-")" }
        let firstAudit = try await h.auditActions(subject: "executor/\(first.ids[0])")
        let secondAudit = try await h.auditActions(subject: "executor/\(second.ids[0])")
        #expect(task.attempt == 2, """
            history \(trail.joined(separator: ", ")); first (\(first.ids[0])): \(firstAudit.joined(separator: ", ")); \
            second (\(second.ids[0])): \(secondAudit.joined(separator: ", ")); \
            fleet errors: first \(first.snapshot.errors.prefix(5)), second \(second.snapshot.errors.prefix(5)); \
            second's longest heartbeat round trip \(second.snapshot.heartbeatLongestRoundTripNs / 1_000_000) ms, \
            longest gap between heartbeats \(second.snapshot.heartbeatLongestGapNs / 1_000_000) ms
            """)
        #expect(task.executor == nil || task.executor == second.ids[0])
        #expect(task.result?.attempt == 2)
        #expect(task.history?.contains { $0.state == "attempt_lost" && $0.attempt == 1 } == true)
        #expect(try await h.auditActions(subject: "executor/\(first.ids[0])").contains("executor.lost"))
        second.stop()
        await h.stop()
    }

    @Test func forgedExpiredAndWrongRoleTokensAreRefused() async throws {
        let h = try await LiveHarness.start()
        func problem(_ client: APIClient, _ method: String, _ path: String) async throws -> (Int, [String: Any]) {
            let (status, data) = try await client.send(method, path)
            return (status, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
        }
        let anonymous = APIClient(base: h.base)
        var (status, body) = try await problem(anonymous, "GET", "/v1/tasks")
        #expect(status == 401 && (body["detail"] as? String)?.contains("bearer token") == true)
        let forger = TokenAuthority(signingKey: try Ed25519PrivateKey())
        (status, body) = try await problem(anonymous.with(token: try forger.issue(subject: "root", role: .admin, ttl: 60)), "GET", "/v1/executors")
        #expect(status == 401 && (body["detail"] as? String)?.contains("signature") == true)
        let real = TokenAuthority(signingKey: h.key)
        let expired = try real.issue(subject: "alice", role: .user, ttl: 60, now: TokenAuthority.now() - 3600)
        (status, body) = try await problem(anonymous.with(token: expired), "GET", "/v1/tasks")
        #expect(status == 401 && (body["detail"] as? String)?.contains("expired") == true)
        let none = Encoding.base64url(Array(#"{"alg":"none"}"#.utf8)) + "."
            + Encoding.base64url(Array(#"{"sub":"root","role":"admin","iat":0,"exp":99999999999}"#.utf8)) + "."
        (status, body) = try await problem(anonymous.with(token: none), "GET", "/v1/executors")
        #expect(status == 401 && (body["detail"] as? String)?.contains("not allowed") == true)
        // A user may not act as an operator; an executor may not act as another.
        (status, body) = try await problem(h.client("alice"), "GET", "/v1/executors")
        #expect(status == 403 && body["title"] as? String == "Forbidden")
        let fleet = try await h.fleet(2)
        let other = h.client(String(fleet.ids[0]), role: .executor)
        (status, _) = try await problem(other, "POST", "/v1/executors/\(fleet.ids[1])/heartbeat")
        #expect(status == 403)
        (status, _) = try await problem(other, "POST", "/v1/tasks")
        #expect(status == 403)
        // An enrollment token works once.
        struct Minted: Decodable { var token: String }
        let minted: Minted = try await h.admin.call("POST", "/v1/enrollment-tokens")
        (status, _) = try await anonymous.send("POST", "/v1/executors/enroll", json: EnrollRequest(enrollmentToken: minted.token, name: "x"))
        #expect(status == 201)
        (status, _) = try await anonymous.send("POST", "/v1/executors/enroll", json: EnrollRequest(enrollmentToken: minted.token, name: "y"))
        #expect(status == 401)
        fleet.stop()
        await h.stop()
    }

    @Test func aTamperedBundleIsRefusedAndTheRefusalAudited() async throws {
        let h = try await LiveHarness.start()
        // Signed by a key other than the one it names: refused on upload.
        let bundle = LiveHarness.wasm("evil")
        let mallory = try Ed25519PrivateKey()
        let forged = PublishRequest(version: "1", description: nil, cpuMillis: 1, memoryBytes: 1, labels: nil, maxAttempts: nil,
                                    profile: nil, bundle: Data(bundle).base64EncodedString(),
                                    signature: Encoding.hex(try mallory.sign(bundle)),
                                    publisherKey: Encoding.hex(h.publisher.publicKey.raw))
        let (status, _) = try await h.client("mallory").send("POST", "/v1/agents/evil/versions", json: forged)
        #expect(status == 422)
        #expect(try await h.auditActions(subject: "agent/evil/1") == ["bundle.refused"])
        // Signed properly, then changed in storage behind the service's back: refused before
        // it is offered to an executor, and the task's attempt fails.
        let published = try await h.publish("victim")
        try await h.service.s3.put(bucket: "honeycomb-bundles", key: "agents/victim/1/\(published.sha256).wasm",
                                   data: LiveHarness.wasm("tampered"))
        let fleet = try await h.fleet(1)
        let (fetch, _) = try await h.client(String(fleet.ids[0]), role: .executor).send("GET", "/v1/agents/victim/versions/1/bundle")
        #expect(fetch == 409)
        #expect(try await h.auditActions(subject: "agent/victim/1").contains("bundle.refused"))
        let alice = h.client("alice")
        let id = try await h.submit("victim", as: alice)
        #expect(try await LiveEnvironment.eventually { try await h.task(id, as: alice).state == "failed" })
        #expect(fleet.snapshot.bundlesRefused >= 1 && fleet.snapshot.succeeded == 0)
        fleet.stop()
        await h.stop()
    }

    @Test func badRequestsGetProblemsThatSayWhatAndWhere() async throws {
        let h = try await LiveHarness.start()
        try await h.publish("echo")
        let alice = h.client("alice")
        func problem(_ body: Data?, _ path: String = "/v1/tasks") async throws -> (Int, String, String) {
            let (status, data) = try await alice.send("POST", path, body: body, headers: ["Content-Type": "application/json"])
            let p = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
            return (status, p["title"] as? String ?? "", p["detail"] as? String ?? String(decoding: data, as: UTF8.self))
        }
        var (status, _, detail) = try await problem(Data("{not json".utf8))
        #expect(status == 400 && detail.contains("not valid JSON"))
        (status, _, detail) = try await problem(Data(#"{"input": {}}"#.utf8))
        #expect(status == 400 && detail.contains("agent") && detail.contains("missing"))
        (status, _, detail) = try await problem(Data(#"{"agent": 7}"#.utf8))
        #expect(status == 400 && detail.contains("agent"))
        (status, _, detail) = try await problem(Data(#"{"agent": "echo", "priority": 1000}"#.utf8))
        #expect(status == 400 && detail.contains("priority"))
        (status, _, detail) = try await problem(Data(#"{"agent": "echo", "input": {"a": "\u0000"}}"#.utf8))
        #expect(status == 400 && detail.contains("NUL"))
        (status, _, detail) = try await problem(Data(#"{"agent": "echo", "priority": 1.5}"#.utf8))
        #expect(status == 400 && detail.contains("at priority: expected an integer, found 1.5"), "\(detail)")
        (status, _, detail) = try await problem(Data(#"{"agent": "echo", "priority": 99999999999999999999}"#.utf8))
        #expect(status == 400 && detail.contains("at priority") && detail.contains("out of range"), "\(detail)")
        (status, _, detail) = try await problem(Data(#"{"agent": "echo", "agent": "other"}"#.utf8))
        #expect(status == 400 && detail.contains("line 1, column 19") && detail.contains("\"agent\" appears twice"), "\(detail)")
        (status, _, detail) = try await problem(Data(#"{"agent": "e"#.utf8) + Data([0xC3, 0x28]) + Data(#""}"#.utf8))
        #expect(status == 400 && detail.contains("not valid UTF-8") && detail.contains("column 13"), "\(detail)")
        (status, _, detail) = try await problem(Data("{\"agent\": \"e\u{0}\"}".utf8))
        #expect(status == 400 && detail.contains("NUL byte"), "\(detail)")
        (status, _, detail) = try await problem(Data((String(repeating: "[", count: 100) + String(repeating: "]", count: 100)).utf8))
        #expect(status == 400 && detail.contains("nested deeper"), "\(detail)")
        (status, _, detail) = try await problem(Data(#"{"agent": "echo", "input": [1, 2"#.utf8))
        #expect(status == 400 && detail.contains("ends inside an array"), "\(detail)")
        // A body is JSON only when it says so.
        for type in ["text/plain", nil] {
            let headers = type.map { ["Content-Type": $0] } ?? [:]
            let (status, data) = try await alice.send("POST", "/v1/tasks", body: Data(#"{"agent": "echo"}"#.utf8), headers: headers)
            let p = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
            #expect(status == 415 && (p["detail"] as? String ?? "").contains("application/json"), "\(type ?? "none"): \(p)")
        }
        (status, _, detail) = try await problem(Data(#"{"agent": "nobody"}"#.utf8))
        #expect(status == 404 && detail.contains("nobody"))
        (status, _, _) = try await problem(Data(repeating: 0x20, count: 200_000))
        #expect(status == 413)
        (status, _, _) = try await problem(nil, "/v1/nowhere")
        #expect(status == 404)
        // Nothing half-written: no task exists after all of that.
        let db = try await PostgresConnection(url: h.databaseURL)
        #expect(try await db.execute("SELECT count(*) FROM tasks").rows[0][0] == "0")
        await h.stop()
    }

    @Test func anExecutorsLLMCallReservesUntilItReportsTheEnd() async throws {
        let h = try await LiveHarness.start()
        let fleet = try await h.fleet(1)
        let me = h.client(String(fleet.ids[0]), role: .executor)
        let ask = LLMRouteBody(executor: fleet.ids[0], model: "small", promptTokens: 1000, maxCompletionTokens: 500,
                               latencyTargetMs: 10_000)
        let routed: [String: JSONValue] = try await me.call("POST", "/v1/llm/route", json: ask)
        guard case .number(let call)? = routed["call"] else { Issue.record("no call id in \(routed)"); return }
        #expect(routed["target"] == .string("cloud"))
        // Another executor cannot end it; its own executor can, once, and pays for the tokens used.
        let stranger = h.client("999", role: .executor)
        #expect(try await stranger.send("POST", "/v1/llm/calls/\(Int64(call))/complete",
                                        json: LLMCompletion(succeeded: true, inputTokens: 1, outputTokens: 1)).status == 404)
        let settled: [String: JSONValue] = try await me.call("POST", "/v1/llm/calls/\(Int64(call))/complete",
                                                             json: LLMCompletion(succeeded: true, inputTokens: 1000, outputTokens: 500))
        // 1,000 input tokens at $1/M and 500 output at $2/M.
        #expect(settled["costUSD"] == .number(0.002))
        #expect(try await me.send("POST", "/v1/llm/calls/\(Int64(call))/complete",
                                  json: LLMCompletion(succeeded: true, inputTokens: 1, outputTokens: 1)).status == 404)
        // A user's question is advice: no call to end.
        let advice: [String: JSONValue] = try await h.client("alice").call("POST", "/v1/llm/route", json: ask)
        #expect(advice["call"] == nil && advice["target"] == .string("cloud"))
        fleet.stop()
        await h.stop()
    }

    @Test func openLLMCallsAndWhatWasSpentSurviveARestartFromPostgreSQL() async throws {
        let h = try await LiveHarness.start(heartbeatTimeout: 60)
        let fleet = try await h.fleet(1)
        let id = fleet.ids[0]
        fleet.stop()  // its registration stands for a minute: enough for the restart
        let ask = LLMRouteBody(executor: id, model: "small", promptTokens: 1000, maxCompletionTokens: 500, latencyTargetMs: 10_000)
        func call(_ c: APIClient) async throws -> Int64 {
            let routed: [String: JSONValue] = try await c.call("POST", "/v1/llm/route", json: ask)
            guard case .number(let n)? = routed["call"] else { throw LiveEnvironment.Failure("no call id in \(routed)") }
            return Int64(n)
        }
        let me = h.client(String(id), role: .executor)
        let (a, b) = (try await call(me), try await call(me))
        let _: [String: JSONValue] = try await me.call("POST", "/v1/llm/calls/\(a)/complete",
                                                       json: LLMCompletion(succeeded: true, inputTokens: 1000, outputTokens: 500))
        await h.stop()
        // A new replica on the same store: the open call is still open, and ends there.
        let h2 = try await LiveHarness.start(heartbeatTimeout: 60, databaseURL: h.databaseURL, key: h.key, namespace: h.namespace)
        let plane = try #require(h2.service.plane)
        #expect(await plane.openCalls == 1)
        let me2 = h2.client(String(id), role: .executor)
        let settled: [String: JSONValue] = try await me2.call("POST", "/v1/llm/calls/\(b)/complete",
                                                              json: LLMCompletion(succeeded: true, inputTokens: 1000, outputTokens: 250))
        #expect(settled["costUSD"] == .number(0.0015))
        // Call ids go on after the last one stored.
        let c = try await call(me2)
        #expect(c > b && b > a)
        let db = try await PostgresConnection(url: h.databaseURL)
        let rows = try await db.execute("SELECT id, target, provider, cost_micro_usd, window_tokens FROM llm_calls ORDER BY id").rows
        #expect(rows.map { $0.map { $0 ?? "-" } } == [[String(a), "cloud", "cloud", "2000", "1500"],
                                                      [String(b), "cloud", "cloud", "1500", "1250"],
                                                      [String(c), "cloud", "cloud", "-", "1500"]])
        await h2.stop()
    }

    @Test func theCallsOfALostExecutorAreReleased() async throws {
        let h = try await LiveHarness.start(heartbeatTimeout: 1)
        let fleet = try await h.fleet(1, heartbeat: 0.2)
        let me = h.client(String(fleet.ids[0]), role: .executor)
        let _: [String: JSONValue] = try await me.call("POST", "/v1/llm/route", json: LLMRouteBody(
            executor: fleet.ids[0], model: "small", promptTokens: 10, maxCompletionTokens: 10, latencyTargetMs: 10_000))
        let plane = try #require(h.service.plane)
        #expect(await plane.openCalls == 1)
        fleet.kill(index: 0)
        #expect(try await LiveEnvironment.eventually { await plane.openCalls == 0 })
        await h.stop()
    }

    @Test func enrollmentCannotTakeAnExistingNameAndABogusReportSpoilsNoBatch() async throws {
        let h = try await LiveHarness.start()
        try await h.publish("echo")
        let fleet = try await h.fleet(1, prefix: "taken")
        struct Minted: Decodable { var token: String }
        let minted: Minted = try await h.admin.call("POST", "/v1/enrollment-tokens")
        let (status, _) = try await APIClient(base: h.base).send("POST", "/v1/executors/enroll",
                                                                 json: EnrollRequest(enrollmentToken: minted.token, name: "taken-0"))
        #expect(status == 409)
        // A report naming a task id beyond the plane's range is refused alone.
        let me = h.client(String(fleet.ids[0]), role: .executor)
        struct Accepted: Decodable { var accepted: [Bool] }
        let a: Accepted = try await me.call("POST", "/v1/executors/\(fleet.ids[0])/reports", json: ReportsRequest(reports: [
            .init(task: 4_294_967_301, attempt: 1, kind: "result", succeeded: true)]))
        #expect(a.accepted == [false])
        let alice = h.client("alice")
        let id = try await h.submit("echo", as: alice)
        #expect(try await LiveEnvironment.eventually { try await h.task(id, as: alice).state == "succeeded" })
        fleet.stop()
        await h.stop()
    }

    @Test func aFailoverKeepsALostExecutorsLeasedWorkFromRunningTwice() async throws {
        let first = try await LiveHarness.start(heartbeatTimeout: 1, lease: 60)
        try await first.publish("slow", profile: ["runtimeMs": .number(30_000), "distribution": .string("fixed")])
        let holder = try await first.fleet(1, prefix: "holder", heartbeat: 0.2)
        let alice = first.client("alice")
        let id = try await first.submit("slow", as: alice)
        #expect(try await LiveEnvironment.eventually { try await first.task(id, as: alice).state == "running" })
        holder.kill(index: 0)  // cut off, perhaps still running it: its lease holds the task
        #expect(try await LiveEnvironment.eventually {
            try await first.auditActions(subject: "executor/\(holder.ids[0])").contains("executor.lost")
        })
        let spare = try await first.fleet(1, prefix: "spare", heartbeat: 0.2)
        await first.stop()
        let second = try await LiveHarness.start(heartbeatTimeout: 1, lease: 60, databaseURL: first.databaseURL,
                                                 key: first.key, namespace: first.namespace)
        try await Task.sleep(for: .seconds(3))  // past a heartbeat timeout under the new leader
        let task = try await second.task(id, as: second.client("alice"))
        #expect(task.state == "running" && task.attempt == 1 && task.executor == holder.ids[0], "\(task.state) \(task.attempt)")
        #expect(spare.snapshot.started == 0)
        spare.stop()
        await second.stop()
    }

    @Test func anAttemptThatNeverStartsIsPlacedAgainAtItsDeadline() async throws {
        let h = try await LiveHarness.start(heartbeatTimeout: 30, startTimeout: 1)
        try await h.publish("echo", profile: ["runtimeMs": .number(20)], maxAttempts: 20)
        // An executor that registers and heartbeats but never takes its deliveries.
        let mute = try await h.fleet(1, prefix: "mute", heartbeat: 0.2)
        mute.deafen(index: 0)
        let alice = h.client("alice")
        let id = try await h.submit("echo", as: alice)
        // Taken back from the executor that never started it...
        #expect(try await LiveEnvironment.eventually {
            try await h.task(id, as: alice).history?.contains { $0.state == "attempt_lost" && $0.attempt == 1 } == true
        })
        // ...and once an operator drains that executor, placed where it runs.
        let helper = try await h.fleet(1, prefix: "helper", heartbeat: 0.2)
        let _: [String: JSONValue] = try await h.admin.call("POST", "/v1/executors/\(mute.ids[0])/drain")
        var task = try await h.task(id, as: alice)
        #expect(try await LiveEnvironment.eventually { task = try await h.task(id, as: alice); return task.state == "succeeded" })
        #expect(task.attempt >= 2)
        #expect(helper.snapshot.succeeded == 1 && mute.snapshot.started == 0)
        mute.stop()
        helper.stop()
        await h.stop()
    }

    @Test func aScenarioRunsLiveWithItsPoolsAgentsAndTenants() async throws {
        let h = try await LiveHarness.start()
        let scenario = try Scenario.parse("""
            name: live-check
            seed: 3
            duration: 2s
            executors:
              - pool: edge
                count: 2
                labels: {site: lab}
                resources: {cpu: 4, memory: 4GiB, slots: 4}
            agents:
              - name: quick
                requires: {cpu: 1, memory: 256MiB, labels: {site: lab}}
                runtime: {constant: 50ms}
            workload:
              - agent: quick
                arrivals: {poisson: {rate: 20/s}}
                tenant: acme
            tenants:
              - {name: acme, weight: 2}
            """)
        var run = LiveScenarioRun(scenario: scenario, controlPlane: h.base,
                                  natsURL: LiveEnvironment.env["HONEYCOMB_NATS_URL"]!, adminToken: h.admin.token!)
        try await run.prepareUsers()
        let figures = try await run.run(log: { _ in })
        #expect(figures.submitted > 10 && figures.refused == 0)
        #expect(figures.completed == figures.submitted && figures.unfinished == 0 && figures.failed == 0, "\(figures)")
        #expect(figures.turnarounds.count == figures.submitted && figures.turnarounds.allSatisfy { $0 >= 0.05 })
        // Submitted as the tenant's user.
        let db = try await PostgresConnection(url: h.databaseURL)
        #expect(try await db.execute("SELECT DISTINCT u.name FROM tasks t JOIN users u ON u.id = t.user_id").rows == [["acme"]])
        await h.stop()
    }

    /// Every candidate policy `simulate` accepts runs live (the random ones on the plane's seeded source).
    @Test(arguments: [SchedulerPolicy.Candidates.all, .sample(2), .adaptive, .powerOfTwo, .random])
    func aScenarioRunsLiveUnderEveryCandidatePolicy(_ candidates: SchedulerPolicy.Candidates) async throws {
        let h = try await LiveHarness.start(candidates: candidates)
        let scenario = try Scenario.parse("""
            name: live-candidates
            seed: 5
            duration: 1s
            executors:
              - {pool: edge, count: 3, resources: {cpu: 4, memory: 4GiB, slots: 4}}
            agents:
              - {name: quick, requires: {cpu: 1, memory: 256MiB}, runtime: {constant: 20ms}}
            workload:
              - {agent: quick, arrivals: {poisson: {rate: 30/s}}}
            """)
        var run = LiveScenarioRun(scenario: scenario, controlPlane: h.base,
                                  natsURL: LiveEnvironment.env["HONEYCOMB_NATS_URL"]!, adminToken: h.admin.token!)
        try await run.prepareUsers()
        let figures = try await run.run(log: { _ in })
        #expect(figures.submitted > 5 && figures.refused == 0, "\(candidates): \(figures)")
        #expect(figures.completed == figures.submitted && figures.unfinished == 0 && figures.failed == 0, "\(candidates): \(figures)")
        #expect(h.service.isLeader, "\(candidates): the scheduler stopped")
        await h.stop()
    }

    @Test func aRepeatedSubmissionWithItsIdempotencyKeyGetsTheSameTask() async throws {
        let h = try await LiveHarness.start()
        try await h.publish("echo")
        let alice = h.client("alice"), bob = h.client("bob")
        let request = TaskRequest(agent: "echo")
        func submit(_ c: APIClient, _ key: String) async throws -> (Int, Int64?) {
            let (status, data) = try await c.send("POST", "/v1/tasks", json: request, headers: ["Idempotency-Key": key])
            return (status, (try? JSONDecoder().decode(LiveHarness.Submitted.self, from: data))?.id)
        }
        // At once, twice (the second before the first is committed, or after), then later.
        async let a = submit(alice, "order-17")
        async let b = submit(alice, "order-17")
        let (first, second) = try await (a, b)
        #expect(first.1 != nil && first.1 == second.1)
        #expect(Set([first.0, second.0]) == [201, 200])
        let (later, laterID) = try await submit(alice, "order-17")
        #expect(later == 200 && laterID == first.1)
        // The key used again for another request is refused, in flight or stored.
        let (different, _) = try await alice.send("POST", "/v1/tasks", json: TaskRequest(agent: "echo", priority: 5),
                                                  headers: ["Idempotency-Key": "order-17"])
        #expect(different == 422)
        // Another user's key is their own; a bad key is refused.
        let (other, otherID) = try await submit(bob, "order-17")
        #expect(other == 201 && otherID != first.1)
        #expect(try await submit(alice, String(repeating: "k", count: 201)).0 == 400)
        // A batch under a key: the repeat gets the same tasks; another size is a conflict.
        struct IDs: Decodable { var ids: [Int64] }
        let batch = TaskBatchRequest(tasks: [request, request, request])
        let (b1, d1) = try await alice.send("POST", "/v1/task-batches", json: batch, headers: ["Idempotency-Key": "nightly"])
        let (b2, d2) = try await alice.send("POST", "/v1/task-batches", json: batch, headers: ["Idempotency-Key": "nightly"])
        #expect(b1 == 201 && b2 == 200)
        #expect(try JSONDecoder().decode(IDs.self, from: d1).ids == JSONDecoder().decode(IDs.self, from: d2).ids)
        let (b3, _) = try await alice.send("POST", "/v1/task-batches", json: TaskBatchRequest(tasks: [request]),
                                           headers: ["Idempotency-Key": "nightly"])
        #expect(b3 == 409)
        let db = try await PostgresConnection(url: h.databaseURL)
        #expect(try await db.execute("SELECT count(*) FROM tasks").rows[0][0] == "5")
        await h.stop()
    }

    @Test func submissionsGoToTheLatestVersionUnlessOneIsNamed() async throws {
        let h = try await LiveHarness.start()
        try await h.publish("echo", version: "1")
        try await h.publish("echo", version: "2")
        struct View: Decodable { var version: String }
        let alice = h.client("alice")
        let latest = try await h.submit("echo", as: alice)
        let named: LiveHarness.Submitted = try await alice.call("POST", "/v1/tasks", json: TaskRequest(agent: "echo", version: "1"))
        #expect(try await alice.call("GET", "/v1/tasks/\(latest)", as: View.self).version == "2")
        #expect(try await alice.call("GET", "/v1/tasks/\(named.id)", as: View.self).version == "1")
        #expect(try await alice.send("POST", "/v1/tasks", json: TaskRequest(agent: "echo", version: "3")).status == 404)
        await h.stop()
    }

    @Test func aLostStoreConnectionFailsTheBatchAndTheSchedulerComesBack() async throws {
        let h = try await LiveHarness.start()
        try await h.publish("echo")
        let alice = h.client("alice")
        let before = try await h.submit("echo", as: alice)
        // Cut the scheduler's own connection (the one holding the advisory lock): the batch that
        // meets it fails, the plane is dropped, and the replica competes again and rebuilds.
        let admin = try await PostgresConnection(url: h.databaseURL)
        let killed = try await admin.execute("""
            SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND objid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, [String(PostgresElection.leaderLock)]).rows
        #expect(killed.count == 1)
        var statuses: [Int] = []
        var after: Int64?
        #expect(try await LiveEnvironment.eventually(30) {
            let (status, data) = try await alice.send("POST", "/v1/tasks", json: TaskRequest(agent: "echo"))
            statuses.append(status)
            after = try? JSONDecoder().decode(LiveHarness.Submitted.self, from: data).id
            return status == 201
        })
        // The first meets the dead connection: refused, and nothing of it kept.
        #expect(statuses.first == 503 && statuses.allSatisfy { $0 == 201 || $0 == 503 }, "\(statuses)")
        #expect(h.service.isLeader)
        // Both accepted tasks are stored; nothing refused was.
        let rows = try await admin.execute("SELECT id FROM tasks ORDER BY id").rows.map { Int64($0[0]!)! }
        #expect(rows == [before, after!])
        await h.stop()
    }

    @Test func theFleetIsListedAPageAtATime() async throws {
        let h = try await LiveHarness.start()
        let fleet = try await h.fleet(3)
        let ids = fleet.ids.sorted()
        struct Page: Decodable {
            var executors: [E]; var next: Int64?
            struct E: Decodable { var id: Int64; var state: String; var present: Bool; var slots: Int64; var usedSlots: Int64? }
        }
        let first: Page = try await h.admin.call("GET", "/v1/executors?limit=2")
        #expect(first.executors.map(\.id) == Array(ids.prefix(2)) && first.next == ids[1])
        let second: Page = try await h.admin.call("GET", "/v1/executors?limit=2&after=\(first.next!)")
        #expect(second.executors.map(\.id) == [ids[2]] && second.next == nil)
        // Presence is written beside the batch loop, once a heartbeat has been heard: waited for.
        #expect(try await LiveEnvironment.eventually(10) {
            let whole: Page = try await h.admin.call("GET", "/v1/executors")
            return whole.executors.allSatisfy(\.present)
        })
        let whole: Page = try await h.admin.call("GET", "/v1/executors")
        #expect(whole.executors.map(\.id) == ids && whole.next == nil)
        #expect(whole.executors.allSatisfy { $0.state == "online" && $0.present && $0.slots == 8 && $0.usedSlots == 0 },
                "\(whole.executors)")
        // Presence is read for the page: an executor whose key went is shown absent.
        fleet.stop()
        #expect(try await LiveEnvironment.eventually(10) {
            try await h.service.presence.remove(ids[0])
            try await Task.sleep(for: .milliseconds(200))
            let page: Page = try await h.admin.call("GET", "/v1/executors?limit=1")
            return page.executors.map(\.present) == [false]
        })
        for bad in ["limit=0", "limit=1001", "after=-1", "limit=two"] {
            let (status, data) = try await h.admin.send("GET", "/v1/executors?\(bad)")
            let detail = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["detail"] as? String ?? ""
            #expect(status == 400 && detail.contains(bad.split(separator: "=")[0]), "\(bad): \(status) \(detail)")
        }
        await h.stop()
    }

    @Test func presenceEmptiedInRedisIsRefilledFromThePlane() async throws {
        let h = try await LiveHarness.start()
        let fleet = try await h.fleet(3)
        fleet.stop()  // no heartbeats to refill it instead
        // A heartbeat already on its way may renew a key after it was removed: remove until
        // the last of them has landed.
        #expect(try await LiveEnvironment.eventually(10) {
            for id in fleet.ids { try await h.service.presence.remove(id) }
            try await Task.sleep(for: .milliseconds(200))
            return try await h.service.presence.present().filter(fleet.ids.contains).isEmpty
        })
        // One key is back (its executor's heartbeat came first): it is kept, the others refilled.
        try await h.service.presence.mark(fleet.ids[0], incarnation: 7, ttl: 3600)
        await h.service.plane?.refillPresence()
        #expect(try await h.service.presence.present().filter(fleet.ids.contains) == fleet.ids.sorted())
        #expect(try await h.service.presence.incarnation(of: fleet.ids[0]) == 7)
        await h.stop()
    }

    @Test func aBatchOfTasksIsAcceptedWholeOrNotAtAll() async throws {
        let h = try await LiveHarness.start()
        try await h.publish("echo")
        let alice = h.client("alice")
        let good = TaskRequest(agent: "echo", input: .object(["k": .number(1)]))
        let bad = TaskRequest(agent: "nobody")
        let (status, data) = try await alice.send("POST", "/v1/task-batches", json: TaskBatchRequest(tasks: [good, bad, good]))
        #expect(status == 404 && String(decoding: data, as: UTF8.self).contains("tasks[1].agent"))
        let db = try await PostgresConnection(url: h.databaseURL)
        #expect(try await db.execute("SELECT count(*) FROM tasks").rows[0][0] == "0")
        struct IDs: Decodable { var ids: [Int64] }
        let fleet = try await h.fleet(1)
        let accepted: IDs = try await alice.call("POST", "/v1/task-batches", json: TaskBatchRequest(tasks: Array(repeating: good, count: 50)))
        #expect(accepted.ids.count == 50 && Set(accepted.ids).count == 50)
        #expect(try await LiveEnvironment.eventually {
            try await db.execute("SELECT count(*) FROM tasks WHERE state = 'succeeded'").rows[0][0] == "50"
        })
        #expect(fleet.snapshot.started == 50)
        fleet.stop()
        await h.stop()
    }

    @Test func theOpenAPIDocumentListsEveryRouteAndEveryListedRouteAnswers() async throws {
        let h = try await LiveHarness.start()
        let (status, data) = try await h.admin.send("GET", "/openapi.json")
        #expect(status == 200)
        let doc = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        let paths = doc["paths"] as! [String: [String: Any]]
        var checked = 0
        for (path, operations) in paths {
            for method in operations.keys {
                let concrete = path.replacingOccurrences(of: "{id}", with: "1").replacingOccurrences(of: "{task}", with: "1")
                    .replacingOccurrences(of: "{attempt}", with: "1").replacingOccurrences(of: "{name}", with: "x")
                    .replacingOccurrences(of: "{version}", with: "1").replacingOccurrences(of: "{call}", with: "1")
                let (_, body) = try await h.admin.send(method.uppercased(), concrete)
                let title = (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["title"] as? String
                #expect(title != "No such route", "\(method) \(path) is documented but not routed")
                checked += 1
            }
        }
        #expect(checked == API.routes(h.service).count)
        let (_, body) = try await h.admin.send("GET", "/v1/undocumented")
        #expect((try JSONSerialization.jsonObject(with: body) as? [String: Any])?["title"] as? String == "No such route")
        await h.stop()
    }

    @Test func aStandbyTakesOverWhenTheActiveSchedulerStops() async throws {
        let first = try await LiveHarness.start()
        try await first.publish("echo")
        let second = try await LiveHarness.start(databaseURL: first.databaseURL, key: first.key, namespace: first.namespace,
                                                 waitForLeader: false)
        #expect(first.service.isLeader && !second.service.isLeader)
        let (ready, _) = try await APIClient(base: second.base).send("GET", "/readyz")
        #expect(ready == 503)
        let alice = first.client("alice")
        let id = try await first.submit("echo", as: alice)
        await first.stop()
        #expect(try await LiveEnvironment.eventually(30) { second.service.isLeader })
        // The task accepted by the first is still there, and finishes under the second.
        let fleet = try await second.fleet(1)
        let aliceThere = second.client("alice")
        #expect(try await LiveEnvironment.eventually { try await second.task(id, as: aliceThere).state == "succeeded" })
        fleet.stop()
        await second.stop()
    }
}
