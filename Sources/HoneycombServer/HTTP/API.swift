import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombDriver
import HoneycombLive
import Hummingbird
import NIOCore
import Synchronization

/// The request context: who is asking, once the token is checked.
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    var claims: TokenClaims?
    /// The connection, to close it after an answer that says `Connection: close`.
    let channel: any Channel

    public init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies are read explicitly, each route with its own limit (`API.body`).
    public var maxUploadSize: Int { 1 << 20 }
}

/// Checks the bearer token on every route but the health checks and enrollment (whose body
/// carries its own one-time token).
struct AuthMiddleware: RouterMiddleware {
    let tokens: Authenticator
    static let open: Set<String> = ["/healthz", "/readyz", "/v1/executors/enroll"]

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        context.claims = try tokens.claims(authorization: request.headers[.authorization])
        return try await next(request, context)
    }
}

/// Bearer tokens and roles, checked alike for REST (`AuthMiddleware`) and gRPC.
struct Authenticator: Sendable {
    let authority: TokenAuthority
    let metrics: ServiceMetrics
    let cache = VerifiedTokens()

    /// The claims of an `Authorization: Bearer <token>` value, or 401 saying what is wrong.
    func claims(authorization header: String?) throws -> TokenClaims {
        guard let header else {
            metrics.tokensRefused.increment()
            throw Problem.unauthorized("this route needs a bearer token (Authorization: Bearer <token>)")
        }
        guard header.hasPrefix("Bearer ") else {
            metrics.tokensRefused.increment()
            throw Problem.unauthorized("the Authorization header must be \"Bearer <token>\"")
        }
        do {
            return try cache.verify(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), authority)
        } catch let e as TokenError {
            metrics.tokensRefused.increment()
            throw Problem.unauthorized(e.description)
        }
    }

    /// 403 unless the token's role is one of `roles`; `what` is what the call does ("drain an executor").
    func require(_ claims: TokenClaims, _ roles: Set<Role>, toDo what: String) throws {
        guard roles.contains(claims.role) else {
            metrics.tokensRefused.increment()
            throw Problem.forbidden("a \(claims.role.rawValue) token may not \(what); "
                + "this needs the role \(roles.map(\.rawValue).sorted().joined(separator: " or "))")
        }
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

/// A route and its handler.
typealias Route = (RouteSpec, API.Handler)

extension APIContext {
    /// The caller's claims (every route but the open ones has them).
    func requireClaims() throws -> TokenClaims {
        guard let c = claims else { throw Problem.unauthorized("this route needs a bearer token") }
        return c
    }

    /// An id from the path, checked against the contract's schema of that parameter.
    func pathID(_ name: String) throws -> Int64 {
        let v = parameters.get(name) ?? ""
        try Contract.path[name]!.check(.number(v), at: "\(name) (in the path)", [:])
        return JSONNode.integer(v)!
    }

    /// A name from the path, checked against the contract's schema of that parameter.
    func pathName(_ name: String) throws -> String {
        let v = parameters.get(name) ?? ""
        try Contract.path[name]!.check(.string(v), at: "\(name) (in the path)", [:])
        return v
    }

    /// The executor of the path, which must be the caller itself.
    func selfExecutor() throws -> Int64 {
        let id = try pathID("id")
        let sub = try requireClaims().sub
        guard sub == String(id) else { throw Problem.forbidden("an executor may act only as itself (this token is executor \(sub))") }
        return id
    }
}

/// A body the contract names: its schema is `Contract.components()[contract]`.
protocol ContractBody: Decodable {
    static var contract: String { get }
}

extension UserRequest: ContractBody { static var contract: String { "UserRequest" } }
extension TaskRequest: ContractBody { static var contract: String { "TaskRequest" } }
extension TaskBatchRequest: ContractBody { static var contract: String { "TaskBatchRequest" } }
extension PublishRequest: ContractBody { static var contract: String { "PublishRequest" } }
extension ReportsRequest: ContractBody { static var contract: String { "ReportsRequest" } }
extension LLMRouteBody: ContractBody { static var contract: String { "LLMRouteBody" } }
extension LLMCompletion: ContractBody { static var contract: String { "LLMCompletion" } }
extension EnrollRequest: ContractBody { static var contract: String { "EnrollRequest" } }
extension ExecutorSpecBody: ContractBody { static var contract: String { "ExecutorSpecBody" } }
extension ProgressRequest: ContractBody { static var contract: String { "ProgressRequest" } }
extension ResultRequest: ContractBody { static var contract: String { "ResultRequest" } }

/// A query or header parameter: its name and schema, read and checked by the handler
/// (`Parameter.read`) with the same value the document shows.
struct Parameter: Sendable {
    var name: String
    var schema: Schema
    var note: String

    /// The parameter's text from the request, checked; nil when absent.
    func read(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard case .integer = schema.shape else {
            try schema.check(.string(text), at: "\(name) (in the query)", [:])
            return text
        }
        try schema.check(.number(text), at: "\(name) (in the query)", [:])
        return String(JSONNode.integer(text)!)
    }

    /// The request's values of `parameters`, each checked (the absent ones left out).
    static func values(_ parameters: [Parameter], in request: Request) throws -> [String: String] {
        let q = request.uri.queryParameters
        var value: [String: String] = [:]
        for p in parameters { value[p.name] = try p.read(q.get(p.name)) }
        return value
    }

    /// A list's paging, as every list route takes it: `limit` and `after` (an id of `items`).
    static func paging(_ items: String) -> [Parameter] {
        [Parameter(name: "limit", schema: .integer(min: 1, max: 1000), note: "At most this many (100 when left out)"),
         Parameter(name: "after", schema: .integer(min: 0, max: Int64(Int32.max)), note: "\(items) after this id (a page's `next`)")]
    }
}

/// A page asked for through `Parameter.paging`: at most `limit` after id `after`.
struct Paging {
    var limit: Int
    var after: Int64
    init(_ values: [String: String]) {
        limit = values["limit"].flatMap { Int($0) } ?? 100
        after = values["after"].flatMap { Int64($0) } ?? 0
    }

    /// What continues a page of `ids`: its last, when the page is full (nil at the end).
    func next(_ ids: [Int64]) -> Int64? { ids.count == limit ? ids.last : nil }
}

/// What a route answers when all goes well: the status, and the body's component (nil: a
/// body of another media type, `type`).
struct Answer: Sendable {
    var status: Int
    var body: String?
    var type = "application/json"
    var note: String
    /// OpenAPI links from this answer: name, operation, and its parameters' runtime expressions.
    var links: [(name: String, operation: String, parameters: [String: String])] = []

    static func ok(_ body: String, _ note: String = "Done") -> Answer { Answer(status: 200, body: body, note: note) }
    static func created(_ body: String, _ note: String = "Created") -> Answer { Answer(status: 201, body: body, note: note) }
}

/// One route: what the OpenAPI document says of it, and who may call it.
struct RouteSpec: Sendable {
    var method: HTTPRequest.Method
    /// Hummingbird's form (`/v1/tasks/:id`); the OpenAPI form is derived (`/v1/tasks/{id}`).
    var path: String
    var roles: Set<Role>
    var summary: String
    var requestBody: (any ContractBody.Type)?
    var answers: [Answer]
    var query: [Parameter] = []
    /// Takes an `Idempotency-Key` header.
    var idempotent = false
    var openAPIPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
    }
    /// `getV1TasksId`: the method and the path's words.
    var operationID: String {
        method.rawValue.lowercased() + openAPIPath.split(separator: "/")
            .map { $0.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "") }
            .map { $0.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined() }.joined()
    }
}

/// The methods each path of the API answers, so that another method on it is a 405 with
/// `Allow` rather than "no such route".
struct MethodTable: Sendable {
    private var paths: [(segments: [Substring], methods: String)] = []

    init(_ routes: [RouteSpec]) {
        var methods: [String: Set<String>] = [:]
        for r in routes { methods[r.path, default: []].insert(r.method.rawValue) }
        for path in methods.keys.sorted() {
            let allow: String = methods[path]!.sorted().joined(separator: ", ")
            paths.append((segments: path.split(separator: "/"), methods: allow))
        }
    }

    /// What the path allows, if the API has it.
    func allowed(_ path: String) -> String? {
        let asked: [Substring] = path.split(separator: "/")
        for p in paths where p.segments.count == asked.count {
            var same = true
            for (pattern, part) in zip(p.segments, asked) where !pattern.hasPrefix(":") && pattern != part { same = false }
            if same { return p.methods }
        }
        return nil
    }
}

/// The HTTP API.
public enum API {
    public static func router(_ service: HoneycombService) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        let table = routes(service)
        router.add(middleware: ProblemMiddleware(metrics: service.metrics, methods: MethodTable(table.map(\.0))))
        router.add(middleware: AuthMiddleware(tokens: service.tokens))
        for (spec, handler) in table {
            router.on(RouterPath(spec.path), method: spec.method) { request, context -> Response in
                if !spec.roles.isEmpty {
                    guard let claims = context.claims else { throw Problem.unauthorized("this route needs a bearer token") }
                    try service.tokens.require(claims, spec.roles, toDo: spec.summary.lowercased())
                }
                return try await handler(request, context)
            }
        }
        return router
    }

    typealias Handler = @Sendable (Request, APIContext) async throws -> Response

    /// Every route, in the order the OpenAPI document lists them: a collection per resource.
    static func routes(_ s: HoneycombService) -> [Route] {
        SystemRoutes.routes(s) + UserRoutes.routes(s) + TaskRoutes.routes(s) + AgentRoutes.routes(s) + LLMRoutes.routes(s)
            + ExecutorRoutes.routes(s)
    }

    /// A JSON response.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// The body checked against the contract's schema of `T` and decoded, read up to `limit`
    /// bytes (413 beyond), with a clear 400 when it does not fit and 415 when it is not
    /// declared `application/json`.
    static func body<T: ContractBody>(_ request: Request, as: T.Type, limit: Int = 64 << 10, within: Duration,
                                      contract: [String: Schema]) async throws -> T {
        try requireJSON(request)
        let buffer = try await collect(request, upTo: limit, within: within)
        guard buffer.readableBytes > 0 else { throw Problem.badRequest("this route needs a JSON body") }
        let node = try StrictJSON.parse(Array(buffer.readableBytesView))
        try Schema.named(T.contract).check(node, contract)
        return try StrictJSON.decode(T.self, from: node)
    }

    /// The whole body, or 408 when it does not arrive in time (a slow or stalled sender must
    /// not hold a connection and a handler for ever).
    static func collect(_ request: Request, upTo limit: Int, within: Duration) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                var r = request
                return try await r.collectBody(upTo: limit)
            }
            group.addTask {
                try await Task.sleep(for: within)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let buffer = first else {
                throw Problem(.requestTimeout, "Request timeout", "the request's body did not arrive within \(within)",
                              headers: [.connection: "close"])
            }
            return buffer
        }
    }

    /// A body must say it is JSON: `application/json` (parameters such as `charset=utf-8` allowed).
    static func requireJSON(_ request: Request) throws {
        guard let type = request.headers[.contentType] else {
            throw Problem(.unsupportedMediaType, "Unsupported media type", "the body must be sent as Content-Type: application/json")
        }
        let essence = type.split(separator: ";", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces).lowercased()
        guard essence == "application/json" else {
            throw Problem(.unsupportedMediaType, "Unsupported media type",
                          "the body must be sent as Content-Type: application/json, not \(essence)")
        }
    }
}

extension HoneycombService {
    /// The request's JSON body as `T`, within this service's body timeout.
    func body<T: ContractBody>(_ request: Request, as type: T.Type, limit: Int = 64 << 10) async throws -> T {
        try await API.body(request, as: type, limit: limit, within: .nanoseconds(Int64(config.bodyTimeout * 1e9)), contract: contract)
    }
}
