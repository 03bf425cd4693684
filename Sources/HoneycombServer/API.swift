import Foundation
import HoneycombCore
import HoneycombDriver
import HoneycombLive
import Hummingbird
import Synchronization

/// The request context: who is asking, once the token is checked.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    var claims: TokenClaims?

    public init(source: Source) {
        coreContext = .init(source: source)
    }

    /// Bodies are read explicitly, each route with its own limit (`API.body`).
    public var maxUploadSize: Int { 1 << 20 }
}

/// Checks the bearer token on every route but the health checks and enrollment (whose body
/// carries its own one-time token).
struct AuthMiddleware: RouterMiddleware {
    let authority: TokenAuthority
    let metrics: ServiceMetrics
    let cache = VerifiedTokens()
    static let open: Set<String> = ["/healthz", "/readyz", "/v1/executors/enroll"]

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            metrics.tokensRefused.add(1)
            throw Problem.unauthorized("this route needs a bearer token (Authorization: Bearer <token>)")
        }
        guard header.hasPrefix("Bearer ") else {
            metrics.tokensRefused.add(1)
            throw Problem.unauthorized("the Authorization header must be \"Bearer <token>\"")
        }
        var context = context
        do {
            context.claims = try cache.verify(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), authority)
        } catch let e as TokenError {
            metrics.tokensRefused.add(1)
            throw Problem.unauthorized(e.description)
        }
        return try await next(request, context)
    }
}

/// Tokens whose signature has been checked, so a client's every request does not cost an
/// Ed25519 verification. Keyed by the whole token; expiry is checked on every use.
final class VerifiedTokens: Sendable {
    private let entries = Mutex<[String: TokenClaims]>([:])
    static let capacity = 65536

    func verify(_ token: String, _ authority: TokenAuthority) throws -> TokenClaims {
        let now = TokenAuthority.now()
        if let claims = entries.withLock({ $0[token] }) {
            if claims.exp + authority.leeway > now { return claims }
            _ = entries.withLock { $0.removeValue(forKey: token) }
        }
        let claims = try authority.verify(token, now: now)
        entries.withLock { e in
            if e.count >= Self.capacity { e.removeAll(keepingCapacity: true) }
            e[token] = claims
        }
        return claims
    }
}

/// One route: what the OpenAPI document says of it, and who may call it.
struct RouteSpec: Sendable {
    var method: HTTPRequest.Method
    /// Hummingbird's form (`/v1/tasks/:id`); the OpenAPI form is derived (`/v1/tasks/{id}`).
    var path: String
    var roles: Set<Role>
    var summary: String
    var requestBody: String?
    var openAPIPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
    }
}

/// The HTTP API.
public enum API {
    public static func router(_ service: HoneycombService) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: ProblemMiddleware(metrics: service.metrics))
        router.add(middleware: AuthMiddleware(authority: service.authority, metrics: service.metrics))
        for (spec, handler) in routes(service) {
            router.on(RouterPath(spec.path), method: spec.method) { request, context -> Response in
                if !spec.roles.isEmpty {
                    guard let claims = context.claims else { throw Problem.unauthorized("this route needs a bearer token") }
                    guard spec.roles.contains(claims.role) else {
                        service.metrics.tokensRefused.add(1)
                        throw Problem.forbidden("a \(claims.role.rawValue) token may not \(spec.summary.lowercased()); "
                            + "this needs the role \(spec.roles.map(\.rawValue).sorted().joined(separator: " or "))")
                    }
                }
                return try await handler(request, context)
            }
        }
        return router
    }

    typealias Handler = @Sendable (Request, APIContext) async throws -> Response

    /// Every route, in the order the OpenAPI document lists them.
    static func routes(_ s: HoneycombService) -> [(RouteSpec, Handler)] {
        let anyone: Set<Role> = []
        let users: Set<Role> = [.user, .admin]
        let admin: Set<Role> = [.admin]
        let executor: Set<Role> = [.executor]
        return [
            (RouteSpec(method: .get, path: "/healthz", roles: anyone, summary: "Liveness"), { _, _ in
                try json(["status": "ok"])
            }),
            (RouteSpec(method: .get, path: "/readyz", roles: anyone, summary: "Readiness: dependencies reachable"), { _, _ in
                try await readiness(s)
            }),
            (RouteSpec(method: .get, path: "/metrics", roles: admin, summary: "Read Prometheus metrics"), { _, _ in
                let p = s.plane
                let queued = await p?.queued ?? 0
                let c = await p?.counters
                let text = s.metrics.render(leader: p != nil, queued: queued,
                                            counters: c.map { ($0.dispatched, $0.retried, $0.rescheduled, $0.executorsLost) })
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }),
            (RouteSpec(method: .get, path: "/openapi.json", roles: [.admin, .user, .executor], summary: "Read this API's OpenAPI document"), { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json"],
                         body: .init(byteBuffer: ByteBuffer(bytes: OpenAPI.document(routes(s).map(\.0)))))
            }),
            (RouteSpec(method: .post, path: "/v1/users", roles: admin, summary: "Create a user and issue a token",
                       requestBody: "UserRequest"), { request, context in
                try await Handlers.createUser(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/tasks", roles: users, summary: "Submit a task", requestBody: "TaskRequest"), { request, context in
                try await Handlers.submit(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/task-batches", roles: users, summary: "Submit up to 1000 tasks at once",
                       requestBody: "TaskBatchRequest"), { request, context in
                try await Handlers.submitBatch(s, request, context)
            }),
            (RouteSpec(method: .get, path: "/v1/tasks", roles: users, summary: "List and filter task history"), { request, context in
                try await Handlers.listTasks(s, request, context)
            }),
            (RouteSpec(method: .get, path: "/v1/tasks/:id", roles: users, summary: "Get a task with its history and result"), { request, context in
                try await Handlers.getTask(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/tasks/:id/cancel", roles: users, summary: "Cancel a task"), { request, context in
                try await Handlers.cancel(s, request, context)
            }),
            (RouteSpec(method: .get, path: "/v1/tasks/:id/explain", roles: users, summary: "Explain why a task waits"), { request, context in
                try await Handlers.explain(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/agents/:name/versions", roles: users,
                       summary: "Publish an agent version with its signed bundle", requestBody: "PublishRequest"), { request, context in
                try await Handlers.publish(s, request, context)
            }),
            (RouteSpec(method: .get, path: "/v1/agents", roles: [.admin, .user, .executor], summary: "Browse the marketplace"), { _, _ in
                try await Handlers.marketplace(s)
            }),
            (RouteSpec(method: .get, path: "/v1/agents/:name/versions/:version/bundle", roles: [.admin, .executor],
                       summary: "Fetch a verified bundle"), { request, context in
                try await Handlers.bundle(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/llm/route", roles: [.admin, .user, .executor],
                       summary: "Ask where an LLM call should go", requestBody: "LLMRouteBody"), { request, context in
                try await Handlers.route(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/llm/calls/:call/complete", roles: executor,
                       summary: "Report a routed LLM call's end", requestBody: "LLMCompletion"), { request, context in
                try await Handlers.completeCall(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/enrollment-tokens", roles: admin, summary: "Create a one-time enrollment token"), { _, context in
                try await Handlers.enrollmentToken(s, context)
            }),
            (RouteSpec(method: .post, path: "/v1/executors/enroll", roles: anyone,
                       summary: "Enroll an executor with a one-time token", requestBody: "EnrollRequest"), { request, context in
                try await Handlers.enroll(s, request, context)
            }),
            (RouteSpec(method: .get, path: "/v1/executors", roles: admin, summary: "List executors with presence and health"), { _, _ in
                try await Handlers.listExecutors(s)
            }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/register", roles: executor,
                       summary: "Report capabilities and local models", requestBody: "ExecutorSpecBody"), { request, context in
                try await Handlers.register(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/heartbeat", roles: executor, summary: "Heartbeat"), { request, context in
                try await Handlers.heartbeat(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/drain", roles: admin, summary: "Drain an executor"), { request, context in
                try await Handlers.drain(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/reports", roles: executor,
                       summary: "Report several task attempts' starts and results", requestBody: "ReportsRequest"), { request, context in
                try await Handlers.reports(s, request, context)
            }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/tasks/:task/attempts/:attempt/start", roles: executor,
                       summary: "Report a task attempt started"), { request, context in
                try await Handlers.report(s, request, context, kind: "start")
            }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/tasks/:task/attempts/:attempt/progress", roles: executor,
                       summary: "Report a task attempt's progress", requestBody: "ProgressRequest"), { request, context in
                try await Handlers.report(s, request, context, kind: "progress")
            }),
            (RouteSpec(method: .post, path: "/v1/executors/:id/tasks/:task/attempts/:attempt/result", roles: executor,
                       summary: "Report a task attempt's result", requestBody: "ResultRequest"), { request, context in
                try await Handlers.report(s, request, context, kind: "result")
            }),
        ]
    }

    static func readiness(_ s: HoneycombService) async throws -> Response {
        var checks: [String: String] = [:]
        do { _ = try await s.db.next().execute("SELECT 1"); checks["postgres"] = "ok" } catch { checks["postgres"] = "unreachable" }
        do { _ = try await s.redis.command(["PING"]); checks["redis"] = "ok" } catch { checks["redis"] = "unreachable" }
        checks["nats"] = s.nats.isConnected ? "ok" : "unreachable"
        do { checks["s3"] = try await s.s3.bucketExists(s.config.bucket) ? "ok" : "no bucket" } catch { checks["s3"] = "unreachable" }
        checks["scheduler"] = s.plane != nil ? "active" : "standby"
        let ready = checks.values.allSatisfy { $0 == "ok" || $0 == "active" }
        return try json(checks, status: ready ? .ok : .serviceUnavailable)
    }

    /// A JSON response.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// The body decoded as `T`, read up to `limit` bytes (413 beyond), with a clear 400 when
    /// it does not fit.
    static func body<T: Decodable>(_ request: Request, as: T.Type, limit: Int = 64 << 10) async throws -> T {
        var request = request
        let buffer = try await request.collectBody(upTo: limit)
        guard buffer.readableBytes > 0 else { throw Problem.badRequest("this route needs a JSON body") }
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }
}
