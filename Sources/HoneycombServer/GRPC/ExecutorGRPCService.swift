import Foundation
import GRPCCore
import HoneycombAPI
import HoneycombDriver
import HoneycombGRPC
import HoneycombLive
import HTTPTypes
import Logging
import SwiftProtobuf

/// The executor service over gRPC: each call is turned into the REST route's body, checked
/// against the same contract, and handled by the same operation (`HoneycombService+Executor
/// Operations`); the same tokens, in the `authorization` metadata. Refusals are the REST
/// problem's detail under the gRPC status closest to its HTTP status.
struct ExecutorGRPCService: Honeycomb_Executor_V1_ExecutorService.ServiceProtocol {
    let service: HoneycombService
    /// Messages of one stream handled at once (the rest wait): an executor's heartbeat need
    /// not wait behind its reports, and no stream can start unbounded work.
    static let streamConcurrency = 16

    func enroll(request: ServerRequest<Honeycomb_Executor_V1_EnrollRequest>,
                context: ServerContext) async throws -> ServerResponse<Honeycomb_Executor_V1_EnrollResponse> {
        try await answer("enroll") {
            let e = try await service.enroll(try service.checked(request.message.body))
            var out = Honeycomb_Executor_V1_EnrollResponse()
            out.id = e.id
            out.token = e.token
            out.stream = e.stream
            out.subject = e.subject
            return out
        }
    }

    func register(request: ServerRequest<Honeycomb_Executor_V1_RegisterRequest>,
                  context: ServerContext) async throws -> ServerResponse<Honeycomb_Executor_V1_RegisterResponse> {
        try await answer("register") {
            let id = try executor(request.metadata, toDo: "report capabilities and local models")
            try await service.register(executor: id, try service.checked(request.message.body))
            var out = Honeycomb_Executor_V1_RegisterResponse()
            out.id = id
            return out
        }
    }

    func connect(request: StreamingServerRequest<GRPCExecutorMessage>,
                 context: ServerContext) async throws -> StreamingServerResponse<GRPCPlaneMessage> {
        let id: Int64
        do { id = try executor(request.metadata, toDo: "connect as an executor") } catch {
            return StreamingServerResponse(error: rpcError(error, "connect"))
        }
        return StreamingServerResponse { writer in
            let (answers, sink) = AsyncStream.makeStream(of: GRPCPlaneMessage.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { sink.finish() }
                    try await withThrowingTaskGroup(of: Void.self) { handlers in
                        var running = 0
                        for try await message in request.messages {
                            if running == Self.streamConcurrency {
                                try await handlers.next()
                                running -= 1
                            }
                            handlers.addTask { sink.yield(await handle(message, executor: id)) }
                            running += 1
                        }
                        try await handlers.waitForAll()
                    }
                }
                for await answer in answers { try await writer.write(answer) }
                try await group.waitForAll()
            }
            return [:]
        }
    }

    /// One message of an executor's stream, answered with the same `seq`.
    func handle(_ message: GRPCExecutorMessage, executor id: Int64) async -> GRPCPlaneMessage {
        var out = GRPCPlaneMessage()
        out.seq = message.seq
        do {
            switch message.kind {
            case .heartbeat?:
                var a = Honeycomb_Executor_V1_HeartbeatAnswer()
                a.reregister = try await service.heartbeat(executor: id)
                out.heartbeat = a
            case .reports(let reports)?:
                var a = Honeycomb_Executor_V1_ReportsAnswer()
                a.accepted = try await service.report(executor: id, try service.checked(reports.body))
                out.reports = a
            case .progress(let p)?:
                let task = try service.checkedPath("task", p.task), attempt = try service.checkedPath("attempt", Int64(p.attempt))
                var a = Honeycomb_Executor_V1_ProgressAnswer()
                a.goOn = try await service.progress(executor: id, task: task, attempt: Int(attempt),
                                                    try service.checked(ProgressRequest(fraction: p.fraction)))
                out.progress = a
            case nil:
                throw Problem.badRequest("the message carries neither a heartbeat, reports nor progress")
            }
        } catch {
            let problem = service.problem(for: error, "Connect")
            var p = Honeycomb_Executor_V1_Problem()
            p.status = Int32(problem.status.code)
            p.title = problem.title
            p.detail = problem.detail
            if let after = problem.headers[.retryAfter].flatMap({ Int32($0) }) { p.retryAfterSeconds = after }
            out.problem = p
        }
        return out
    }

    func routeLLM(request: ServerRequest<Honeycomb_Executor_V1_RouteLLMRequest>,
                  context: ServerContext) async throws -> ServerResponse<Honeycomb_Executor_V1_RouteLLMResponse> {
        try await answer("routeLLM") {
            let claims = try service.tokens.claims(authorization: request.metadata[stringValues: "authorization"].first(where: { _ in true }))
            try service.tokens.require(claims, [.admin, .user, .executor], toDo: "ask where an LLM call should go")
            let r = try await service.route(claims, try service.checked(request.message.body))
            var out = Honeycomb_Executor_V1_RouteLLMResponse()
            out.target = r.target
            out.reason = r.reason
            out.model = r.model
            out.predictedLatencyMs = r.predictedLatencyMs
            out.reservedUsd = r.reservedUSD
            if let e = r.executor { out.executor = e }
            if let p = r.provider { out.provider = p }
            if let c = r.call { out.call = c }
            return out
        }
    }

    func completeLLM(request: ServerRequest<Honeycomb_Executor_V1_CompleteLLMRequest>,
                     context: ServerContext) async throws -> ServerResponse<Honeycomb_Executor_V1_CompleteLLMResponse> {
        try await answer("completeLLM") {
            let id = try executor(request.metadata, toDo: "report a routed LLM call's end")
            let call = try service.checkedPath("call", request.message.call)
            let c = try await service.complete(executor: id, call: call, try service.checked(request.message.body))
            var out = Honeycomb_Executor_V1_CompleteLLMResponse()
            out.call = c.call
            out.costUsd = c.costUSD
            return out
        }
    }

    /// The executor a call's token speaks for (401 without a valid token, 403 for another role).
    func executor(_ metadata: Metadata, toDo what: String) throws -> Int64 {
        let claims = try service.tokens.claims(authorization: metadata[stringValues: "authorization"].first(where: { _ in true }))
        try service.tokens.require(claims, [.executor], toDo: what)
        guard let id = Int64(claims.sub) else { throw Problem.forbidden("the token names no executor") }
        return id
    }

    /// A unary call's answer, or the RPC error its failure maps to.
    func answer<M: Sendable>(_ method: String, _ body: () async throws -> M) async throws -> ServerResponse<M> {
        do {
            return ServerResponse(message: try await body())
        } catch {
            return ServerResponse(error: rpcError(error, method))
        }
    }

    func rpcError(_ error: any Error, _ method: String) -> RPCError {
        let problem = service.problem(for: error, method)
        var metadata: Metadata = [:]
        if let after = problem.headers[.retryAfter] { metadata.addString(after, forKey: "retry-after") }
        return RPCError(code: Self.code(problem.status), message: problem.detail, metadata: metadata)
    }

    /// The gRPC status nearest an HTTP status (as the gRPC project's HTTP mapping has them).
    static func code(_ status: HTTPResponse.Status) -> RPCError.Code {
        switch status.code {
        case 400, 408, 413, 415, 422: .invalidArgument
        case 401: .unauthenticated
        case 403: .permissionDenied
        case 404: .notFound
        case 409: .alreadyExists
        case 429: .resourceExhausted
        case 503: .unavailable
        default: .internalError
        }
    }
}

extension HoneycombService {
    /// A body that came another way than JSON (gRPC), checked against the same contract a
    /// JSON body is: encoded as JSON, checked, and decoded again.
    func checked<T: ContractBody & Encodable>(_ body: T) throws -> T {
        let node = try StrictJSON.parse(Array(try JSONEncoder().encode(body)))
        try Schema.named(T.contract).check(node, contract)
        return try StrictJSON.decode(T.self, from: node)
    }

    /// A value that REST carries in a path, checked against that parameter's schema.
    func checkedPath(_ name: String, _ value: Int64) throws -> Int64 {
        try Contract.path[name]!.check(.number(String(value)), at: name, [:])
        return value
    }

    /// The problem an error is, counted as REST's are; unexpected failures are logged.
    func problem(for error: any Error, _ method: String) -> Problem {
        metrics.requestErrors.increment()
        if let d = Dependency.away(in: error) { metrics.noteFailed(d) }
        let problem = Problem.from(error)
        if problem.status == .internalServerError { logger.error("gRPC \(method) failed: \(error)") }
        return problem
    }
}
