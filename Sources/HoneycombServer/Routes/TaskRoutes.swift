import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombDriver
import HoneycombLive
import Hummingbird

/// Submitting tasks, reading their history, cancelling them, asking why they wait.
enum TaskRoutes {
    static func routes(_ s: HoneycombService) -> [Route] {
        let users: Set<Role> = [.user, .admin]
        return [
            (RouteSpec(method: .post, path: "/v1/tasks", roles: users, summary: "Submit a task", requestBody: TaskRequest.self,
                       answers: [task(.created("Submitted", "Accepted: the task is in the store")),
                                 task(.ok("Submitted", "The task an earlier request with this Idempotency-Key submitted"))],
                       idempotent: true),
             { request, context in try await submit(s, request, context) }),
            (RouteSpec(method: .post, path: "/v1/task-batches", roles: users, summary: "Submit up to 1000 tasks at once",
                       requestBody: TaskBatchRequest.self,
                       answers: [task(.created("BatchSubmitted", "Accepted, all of them"), id: "$response.body#/ids/0"),
                                 task(.ok("BatchSubmitted", "The tasks an earlier request with this Idempotency-Key submitted"),
                                      id: "$response.body#/ids/0")],
                       idempotent: true),
             { request, context in try await submitBatch(s, request, context) }),
            (RouteSpec(method: .get, path: "/v1/tasks", roles: users, summary: "List and filter task history",
                       answers: [.ok("TaskPage", "A page of tasks, oldest first")], query: listQuery),
             { request, context in try await list(s, request, context) }),
            (RouteSpec(method: .get, path: "/v1/tasks/:id", roles: users, summary: "Get a task with its history and result",
                       answers: [.ok("Task", "The task, its status history and its latest result")]),
             { _, context in try await get(s, context) }),
            (RouteSpec(method: .post, path: "/v1/tasks/:id/cancel", roles: users, summary: "Cancel a task",
                       answers: [.ok("TaskState", "The task's state now")]),
             { _, context in try await cancel(s, context) }),
            (RouteSpec(method: .get, path: "/v1/tasks/:id/explain", roles: users, summary: "Explain why a task waits",
                       answers: [.ok("Explanation", "What each placement filter removed, and the best candidates")]),
             { _, context in try await explain(s, context) }),
        ]
    }

    /// An answer naming a task, linked to reading, cancelling and explaining it.
    static func task(_ answer: Answer, id: String = "$response.body#/id") -> Answer {
        var a = answer
        a.links = [("GetTask", "getV1TasksId", ["id": id]), ("CancelTask", "postV1TasksIdCancel", ["id": id]),
                   ("ExplainTask", "getV1TasksIdExplain", ["id": id])]
        return a
    }

    /// The list's query parameters.
    static let listQuery = [
        Parameter(name: "state", schema: Contract.taskState, note: "Only tasks in this state"),
        Parameter(name: "agent", schema: Contract.name, note: "Only tasks of this agent"),
        Parameter(name: "user", schema: .string(min: 1, max: 200), note: "Only this user's tasks (admins; a user sees their own)"),
    ] + Parameter.paging("Tasks")

    static func submit(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let body = try await s.body(request, as: TaskRequest.self)
        let (plane, submission) = try await checked(s, body, claims: try context.requireClaims(), field: "")
        let submitted = try await plane.submit([submission], key: try idempotencyKey(request).map(IdempotencyKey.task))[0]
        return try API.json(["id": JSONValue.number(Double(submitted.id)), "state": .string(submitted.state)],
                            status: submitted.existing ? .ok : .created)
    }

    static func submitBatch(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let body = try await s.body(request, as: TaskBatchRequest.self, limit: 8 << 20)
        let claims = try context.requireClaims()
        var plane: LivePlane?
        var list: [Submission] = []
        for (k, t) in body.tasks.enumerated() {
            let (p, submission) = try await checked(s, t, claims: claims, field: "tasks[\(k)].")
            plane = p
            list.append(submission)
        }
        guard let plane else { throw Problem.badRequest("tasks: expected 1 to 1000 tasks") }
        let submitted = try await plane.submit(list, key: try idempotencyKey(request).map(IdempotencyKey.batch))
        return try API.json(["ids": submitted.map(\.id)], status: submitted.allSatisfy(\.existing) ? .ok : .created)
    }

    /// The `Idempotency-Key` header, checked against the contract.
    static func idempotencyKey(_ request: Request) throws -> String? {
        guard let key = request.headers.first(where: { $0.name.canonicalName == "idempotency-key" })?.value else { return nil }
        try Contract.idempotencyKey.check(.string(key), at: "Idempotency-Key (a header)", [:])
        return key
    }

    /// A task request checked field by field (`field` prefixes the names in messages).
    static func checked(_ s: HoneycombService, _ body: TaskRequest, claims: TokenClaims,
                        field: String) async throws -> (LivePlane, Submission) {
        let priority = body.priority ?? 0
        let input = try (body.input ?? .object([:])).text(field: field + "input")
        let plane = try s.requirePlane()
        guard let version = await plane.agentVersion(named: body.agent, version: body.version) else {
            throw Problem.notFound("\(field)agent: there is no agent \(body.agent)\(body.version.map { " version \($0)" } ?? "")")
        }
        let user = try await s.userID(claims)
        let hash = Encoding.hex(Digest.sha256(Array("\(version)|\(priority)|\(body.latencyTargetMs ?? -1)|\(input)".utf8)))
        return (plane, Submission(agentVersion: version, userID: user, tenant: s.config.plane.tenant(of: claims.sub),
                                  priority: Int8(priority), input: input, latencyTargetMs: body.latencyTargetMs,
                                  requestHash: hash))
    }

    /// The task, if the caller may see it (admins see all; users their own). Another user's
    /// task is "not found", so ids reveal nothing.
    static func visibleTask(_ s: HoneycombService, _ id: Int64, _ claims: TokenClaims) async throws -> TaskView {
        guard let task = try await s.store.task(id), claims.role == .admin || task.user == claims.sub else {
            throw Problem.notFound("there is no task \(id)")
        }
        return task
    }

    static func get(_ s: HoneycombService, _ context: APIContext) async throws -> Response {
        let id = try context.pathID("id")
        var task = try await visibleTask(s, id, try context.requireClaims())
        task.history = try await s.store.history(of: id)
        task.result = try await s.store.latestResult(of: id)
        return try API.json(task)
    }

    static func list(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let claims = try context.requireClaims()
        let value = try Parameter.values(listQuery, in: request)
        let page = Paging(value)
        let user = claims.role == .admin ? value["user"] : claims.sub
        let tasks = try await s.store.tasks(after: page.after, state: value["state"], agent: value["agent"], user: user,
                                            limit: page.limit)
        struct Page: Encodable { var tasks: [TaskView]; var next: Int64? }
        return try API.json(Page(tasks: tasks, next: page.next(tasks.map(\.id))))
    }

    static func cancel(_ s: HoneycombService, _ context: APIContext) async throws -> Response {
        let id = try context.pathID("id")
        let claims = try context.requireClaims()
        _ = try await visibleTask(s, id, claims)
        let state = try await s.requirePlane().cancel(task: id, actor: claims.sub)
        return try API.json(["id": JSONValue.number(Double(id)), "state": .string(state)])
    }

    static func explain(_ s: HoneycombService, _ context: APIContext) async throws -> Response {
        let id = try context.pathID("id")
        let task = try await visibleTask(s, id, try context.requireClaims())
        guard let e = try await s.requirePlane().explain(task: id) else { throw Problem.notFound("the scheduler holds no task \(id)") }
        struct View: Encodable {
            var state: String
            var executors: Int
            var removedBy: [String: Int]
            var best: [[String: Double]]
            var reason: String?
            var hint: String
        }
        return try API.json(View(state: task.state, executors: e.executors,
                                 removedBy: Dictionary(e.removed.filter { $0.count > 0 }.map { ($0.filter.rawValue, $0.count) },
                                                       uniquingKeysWith: +),
                                 best: e.best.map { ["executor": Double($0.executor.rawValue), "score": $0.score] },
                                 reason: e.reason?.rawValue, hint: e.hint))
    }
}
