import Foundation
import HoneycombAPI
import HoneycombDriver
import HoneycombLive
import Hummingbird

/// Executors: enrollment, registration, heartbeats, their reports, and operators' views.
enum ExecutorRoutes {
    static func routes(_ s: HoneycombService) -> [Route] {
        let executor: Set<Role> = [.executor]
        return [
            (RouteSpec(method: .post, path: "/v1/enrollment-tokens", roles: [.admin], summary: "Create a one-time enrollment token",
                       answers: [.created("EnrollmentToken", "A token one executor may enroll with, within the hour")]),
             { _, context in try await enrollmentToken(s, context) }),
            (RouteSpec(method: .post, path: "/v1/executors/enroll", roles: [],
                       summary: "Enroll an executor with a one-time token", requestBody: EnrollRequest.self,
                       answers: [.created("Enrolled", "The executor's id, its token and its dispatch subject")]),
             { request, _ in try await enroll(s, request) }),
            (RouteSpec(method: .get, path: "/v1/executors", roles: [.admin], summary: "List executors with presence and health",
                       answers: [.ok("Executors", "A page of enrolled executors, in id order")], query: Parameter.paging("Executors")),
             { request, _ in try await list(s, request) }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/register", roles: executor,
                       summary: "Report capabilities and local models", requestBody: ExecutorSpecBody.self,
                       answers: [.ok("Registered", "Registered with the plane")]),
             { request, context in try await register(s, request, context) }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/heartbeat", roles: executor, summary: "Heartbeat",
                       answers: [.ok("Heartbeat", "Heard")]),
             { _, context in try API.json(["reregister": try await s.heartbeat(executor: try context.selfExecutor())]) }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/drain", roles: [.admin], summary: "Drain an executor",
                       answers: [.ok("ExecutorState", "Draining: it takes no new work")]),
             { _, context in try await drain(s, context) }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/reports", roles: executor,
                       summary: "Report several task attempts' starts and results", requestBody: ReportsRequest.self,
                       answers: [.ok("ReportsAccepted", "Whether the plane took each")]),
             { request, context in try await reports(s, request, context) }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/tasks/:task/attempts/:attempt/start", roles: executor,
                       summary: "Report a task attempt started", answers: [.ok("StartAnswer", "Whether to run it")]),
             { request, context in try await report(s, request, context, kind: "start") }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/tasks/:task/attempts/:attempt/progress", roles: executor,
                       summary: "Report a task attempt's progress", requestBody: ProgressRequest.self,
                       answers: [.ok("ProgressAnswer", "Whether to go on")]),
             { request, context in try await report(s, request, context, kind: "progress") }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/tasks/:task/attempts/:attempt/result", roles: executor,
                       summary: "Report a task attempt's result", requestBody: ResultRequest.self,
                       answers: [.ok("ResultAnswer", "Whether the plane took it")]),
             { request, context in try await report(s, request, context, kind: "result") }),
        ]
    }

    static func enrollmentToken(_ s: HoneycombService, _ context: APIContext) async throws -> Response {
        let token = "hce_" + Encoding.base64url(Digest.randomBytes(32))
        let expires = try await s.store.createEnrollmentToken(hash: Encoding.hex(Digest.sha256(Array(token.utf8))),
                                                              createdBy: try context.requireClaims().sub)
        return try API.json(["token": token, "expiresAt": expires], status: .created)
    }

    static func enroll(_ s: HoneycombService, _ request: Request) async throws -> Response {
        try API.json(try await s.enroll(try await s.body(request, as: EnrollRequest.self)), status: .created)
    }

    /// A page of the fleet: its rows, their presence and the plane's view of them, each read
    /// for the page alone (one query, pipelined `EXISTS`, one call of the plane), so that a
    /// page costs the same on a fleet of a million as on one of ten.
    static func list(_ s: HoneycombService, _ request: Request) async throws -> Response {
        let page = Paging(try Parameter.values(Parameter.paging("Executors"), in: request))
        let rows = try await s.store.executors(after: page.after, limit: page.limit)
        let ids = rows.map(\.id)
        let present = try await s.presence.present(among: ids)
        let views = await s.plane?.executorViews(ids) ?? ids.map { _ in nil }
        struct View: Encodable {
            var id: Int64; var name: String; var state: String; var present: Bool
            var labels: [String: String]; var cpuMillis, memoryBytes, slots: Int64
            var usedSlots: Int64?; var tasks: Int?
        }
        let out = rows.indices.map { k in
            let r = rows[k], view = views[k]
            return View(id: r.id, name: r.name, state: view?.state ?? r.state, present: present[k], labels: r.labels,
                        cpuMillis: r.cpuMillis, memoryBytes: r.memoryBytes, slots: r.slots,
                        usedSlots: view?.used.slots, tasks: view?.tasks)
        }
        struct Page: Encodable { var executors: [View]; var next: Int64? }
        return try API.json(Page(executors: out, next: page.next(ids)))
    }

    static func register(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let id = try context.selfExecutor()
        try await s.register(executor: id, try await s.body(request, as: ExecutorSpecBody.self))
        return try API.json(["id": id])
    }

    static func drain(_ s: HoneycombService, _ context: APIContext) async throws -> Response {
        let id = try context.pathID("id")
        let plane = try s.requirePlane()
        guard await plane.executorView(id) != nil else { throw Problem.notFound("executor \(id) is not registered") }
        try await plane.drain(executor: id, actor: try context.requireClaims().sub)
        return try API.json(["id": JSONValue.number(Double(id)), "state": .string(await plane.executorView(id)?.state ?? "unknown")])
    }

    static func reports(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let executor = try context.selfExecutor()
        let body = try await s.body(request, as: ReportsRequest.self, limit: 8 << 20)
        return try API.json(["accepted": try await s.report(executor: executor, body)])
    }

    static func report(_ s: HoneycombService, _ request: Request, _ context: APIContext, kind: String) async throws -> Response {
        let executor = try context.selfExecutor()
        let task = try context.pathID("task")
        let attempt = try context.pathID("attempt")
        let plane = try s.requirePlane()
        switch kind {
        case "start":
            let run = try await plane.report(task: task, attempt: Int(attempt), executor: executor, .started)
            return try API.json(["run": run])
        case "progress":
            let body = try await s.body(request, as: ProgressRequest.self)
            return try API.json(["continue": try await s.progress(executor: executor, task: task, attempt: Int(attempt), body)])
        default:
            let body = try await s.body(request, as: ResultRequest.self)
            let output = try body.output.map { try $0.text(field: "output") }
            let accepted = try await plane.report(task: task, attempt: Int(attempt), executor: executor,
                                                  body.succeeded ? .succeeded(output: output) : .failed(output: output))
            return try API.json(["accepted": accepted])
        }
    }
}
