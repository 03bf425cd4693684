import Foundation
import HoneycombAPI
@testable import HoneycombFleet
import HoneycombLive
import Testing

/// The executors' gRPC service of a real `honeycomb serve --grpc-port`: a stock client finds
/// it by reflection alone and gets the same refusals REST gives, and reference executors over
/// gRPC run tasks and route LLM calls beside executors over REST.
@Suite(.enabled(if: LiveEnvironment.available, "servers not started: run the README's test command"), .serialized)
struct GRPCTests {
    /// Runs deploy/grpc/reflect.py (Python grpcio and grpcio-reflection, from PyPI) and reads its JSON.
    static func reflect(_ target: String, _ enrollment: String) async throws -> [String: JSONValue] {
        let script = ServeProcess.root.appendingPathComponent("deploy/grpc/reflect.py").path
        let r = try await ClientCommandTests.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, target, enrollment],
                                                 env: ProcessInfo.processInfo.environment)
        guard r.status == 0, let json = try? JSONDecoder().decode([String: JSONValue].self, from: Data(r.out.utf8)) else {
            throw APIError(status: 0, detail: "reflect.py exited \(r.status): \(r.err)")
        }
        return json
    }

    @Test func aStockClientFindsTheExecutorServiceByReflectionAndIsRefusedAsOverREST() async throws {
        let serve = try await ServeProcess.prepare("grpc-reflect")
        let port = ServeProcess.freePort(), grpcPort = ServeProcess.freePort()
        let server = try await serve.start(port: port, grpcPort: grpcPort)
        defer { server.terminate(); server.waitUntilExit() }
        let admin = serve.client(port: port).with(token: try serve.token("root", .admin))
        let minted: [String: JSONValue] = try await admin.call("POST", "/v1/enrollment-tokens")
        guard case .string(let once)? = minted["token"] else { Issue.record("no enrollment token"); return }

        let r = try await Self.reflect("127.0.0.1:\(grpcPort)", once)
        #expect(r["services"] == .array([.string("grpc.reflection.v1alpha.ServerReflection"), .string("honeycomb.executor.v1.ExecutorService")]))
        guard case .object(let methods)? = r["methods"] else { Issue.record("no methods in \(r)"); return }
        #expect(methods.keys.sorted() == ["CompleteLLM", "Connect", "Enroll", "Register", "RouteLLM"])
        #expect(methods["Connect"]?["clientStreaming"] == .bool(true) && methods["Connect"]?["serverStreaming"] == .bool(true))
        // The same refusals as REST, with REST's details.
        #expect(r["badEnrollment"]?["code"] == .string("UNAUTHENTICATED"))
        #expect(r["badEnrollment"]?["details"] == .string("the enrollment token is unknown, used already, or expired"))
        #expect(r["forgedRegister"]?["code"] == .string("UNAUTHENTICATED"))
        // Enrolled and registered by the stock client; over its stream a heartbeat is answered,
        // and a progress report out of range is refused by the contract's own words, the stream going on.
        #expect(r["registered"] == r["enrolled"]?["id"])
        let stream = r["stream"]?.elements ?? []
        #expect(stream.count == 2, "\(r)")
        #expect(stream.first?["kind"] == .string("heartbeat") && stream.first?["reregister"] == .bool(false))
        #expect(stream.last?["kind"] == .string("problem") && stream.last?["status"] == .number(400))
        if case .string(let detail)? = stream.last?["detail"] {
            #expect(detail.contains("fraction") && detail.contains("0.0...1.0"), "\(detail)")
        }
        let executors: [String: JSONValue] = try await admin.call("GET", "/v1/executors")
        let labels = executors["executors"]?.elements.first?["labels"]
        #expect(labels == .object(["client": .string("python")]))
    }

    @Test func executorsOverGRPCRunTasksAndRouteLLMCallsBesideExecutorsOverREST() async throws {
        let serve = try await ServeProcess.prepare("grpc-fleet")
        let port = ServeProcess.freePort(), grpcPort = ServeProcess.freePort()
        let policy = ServeProcess.root.appendingPathComponent("Scenarios/llm-local-first.yaml").path
        let server = try await serve.start(port: port, grpcPort: grpcPort, ["--policy", policy])
        defer { server.terminate(); server.waitUntilExit() }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let admin = serve.client(port: port).with(token: try serve.token("root", .admin))
        let alice = admin.with(token: try serve.token("alice", .user))
        let publisher = try Ed25519PrivateKey()
        // Each agent runs only on the executors of one protocol (a label), and asks for an LLM call.
        for p in ExecutorProtocol.allCases {
            try await ServeProcess.publish("via-\(p.rawValue)", as: alice, publisher: publisher, labels: ["protocol": p.rawValue], profile: [
                "runtimeMs": .number(20),
                "llm": .object(["model": .string("llama3-8b"), "promptTokens": .number(200), "maxCompletionTokens": .number(50)]),
            ])
        }
        let rest = try await ServeProcess.fleet(base, admin: admin, count: 2, labels: ["protocol": "rest"])
        defer { rest.stop() }
        let grpc = try await ServeProcess.fleet(base, admin: admin, count: 2, grpcPort: grpcPort, labels: ["protocol": "grpc"])
        defer { grpc.stop() }

        struct Submitted: Decodable { var ids: [Int64] }
        var ids: [ExecutorProtocol: [Int64]] = [:]
        for p in ExecutorProtocol.allCases {
            let s: Submitted = try await alice.call("POST", "/v1/task-batches", json: TaskBatchRequest(
                tasks: (0..<100).map { _ in TaskRequest(agent: "via-\(p.rawValue)") }))
            ids[p] = s.ids
        }
        let done = try await LiveEnvironment.eventually(60) {
            rest.snapshot.succeeded + grpc.snapshot.succeeded == 200
        }
        let (r, g) = (rest.snapshot, grpc.snapshot)
        #expect(done, "succeeded: REST \(r.succeeded), gRPC \(g.succeeded); errors \(r.errors.prefix(3)) \(g.errors.prefix(3))")
        #expect(Set(g.startedTasks) == Set(ids[.grpc]!) && g.startedTasks.count == 100, "gRPC executors started \(g.startedTasks.count)")
        #expect(Set(r.startedTasks) == Set(ids[.rest]!) && r.startedTasks.count == 100, "REST executors started \(r.startedTasks.count)")
        #expect(g.llmRoutes == 100 && r.llmRoutes == 100, "LLM routes: gRPC \(g.llmRoutes), REST \(r.llmRoutes)")
        #expect(g.errors.isEmpty && r.errors.isEmpty, "\(g.errors.prefix(3)) \(r.errors.prefix(3))")
        // Every routed call was ended (over gRPC as over REST): none is left reserved.
        let db = try await PostgresConnection(url: serve.databaseURL)
        let open = try await db.execute("SELECT count(*) FROM llm_calls WHERE cost_micro_usd IS NULL").rows[0][0]
        #expect(open == "0", "\(open ?? "?") LLM calls never ended")
        let executors: [String: JSONValue] = try await admin.call("GET", "/v1/executors")
        #expect(executors["executors"]?.elements.filter { $0["present"] == .bool(true) }.count == 4)
    }
}
