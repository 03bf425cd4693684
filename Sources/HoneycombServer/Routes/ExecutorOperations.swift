import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombDriver
import HoneycombLive

/// What an executor does, stated once for both of its protocols: the REST routes
/// (`ExecutorRoutes`, `LLMRoutes`) and the gRPC service (`ExecutorGRPCService`) turn their
/// requests into these bodies, checked against the same contract, and call these.
extension HoneycombService {
    struct Enrolled: Encodable {
        var id: Int64
        var token, stream, subject: String
    }

    /// Enrolls an executor with a one-time enrollment token.
    func enroll(_ body: EnrollRequest) async throws -> Enrolled {
        let hash = Encoding.hex(Digest.sha256(Array(body.enrollmentToken.utf8)))
        func unusable() -> Problem {
            metrics.tokensRefused.increment()
            return Problem.unauthorized("the enrollment token is unknown, used already, or expired")
        }
        let taken = Problem.conflict("an executor named \(body.name) is enrolled already; enroll under another name")
        // A token that cannot work is refused from the pool, before a connection of its own
        // is opened for the transaction: this route is open to anyone.
        guard try await store.enrollmentTokenUsable(hash: hash) else { throw unusable() }
        guard try await !store.executorNameTaken(body.name) else { throw taken }
        let id: Int64
        switch try await store.enroll(name: body.name, tokenHash: hash) {
        case .enrolled(let e): id = e
        case .tokenUnusable: throw unusable()
        case .nameTaken: throw taken
        }
        let token = try authority.issue(subject: String(id), role: .executor, ttl: config.executorTokenTTL)
        return Enrolled(id: id, token: token, stream: channel.stream, subject: channel.subject(executor: id))
    }

    /// Records an executor's capabilities and local models, and tells the plane.
    func register(executor id: Int64, _ body: ExecutorSpecBody) async throws {
        let plane = try requirePlane()
        try await store.register(executor: id, body)
        try await plane.register(executor: id, body)
    }

    /// A heartbeat; true when the plane wants the executor to register again.
    func heartbeat(executor id: Int64) async throws -> Bool {
        try await requirePlane().heartbeat(executor: id)
    }

    /// Starts and results of an executor's attempts: whether the plane took each.
    func report(executor: Int64, _ body: ReportsRequest) async throws -> [Bool] {
        var items: [ReportItem] = []
        for (k, r) in body.reports.enumerated() {
            switch r.kind {
            case "start": items.append(ReportItem(task: r.task, attempt: r.attempt, report: .started))
            case "result":
                guard let ok = r.succeeded else { throw Problem.badRequest("reports[\(k)].succeeded: required for a result") }
                let output = try r.output.map { try $0.text(field: "reports[\(k)].output") }
                items.append(ReportItem(task: r.task, attempt: r.attempt, report: ok ? .succeeded(output: output) : .failed(output: output)))
            default:
                throw Problem.badRequest("reports[\(k)].kind: expected start or result, found \(r.kind)")
            }
        }
        return try await requirePlane().report(items, executor: executor)
    }

    /// An attempt's progress: whether the executor should go on with it.
    func progress(executor: Int64, task: Int64, attempt: Int, _ body: ProgressRequest) async throws -> Bool {
        await (try requirePlane()).isCurrent(task: task, attempt: attempt, executor: executor)
    }

    struct RouteAnswer: Encodable {
        var target, reason, model: String
        var predictedLatencyMs, reservedUSD: Double
        var executor: Int64?
        var provider: String?
        var call: Int64?
    }

    /// Where an LLM call should go. An executor's question (about its own calls only)
    /// reserves capacity until it reports the call's end; anyone else's is advice and
    /// reserves nothing.
    func route(_ claims: TokenClaims, _ body: LLMRouteBody) async throws -> RouteAnswer {
        if claims.role == .executor && claims.sub != String(body.executor) {
            throw Problem.forbidden("an executor may ask only for calls of its own (executor \(claims.sub))")
        }
        let plane = try requirePlane()
        let d = claims.role == .executor ? try await plane.route(body) : try await plane.advise(body)
        let llm = config.plane.llm
        var out = RouteAnswer(target: "rejected", reason: d.reason.rawValue, model: llm.models[d.model.index].name,
                              predictedLatencyMs: d.predictedLatency.seconds * 1000, reservedUSD: Double(d.reservedMicroUSD) / 1e6)
        switch d.target {
        case .local(let e): out.target = "local"; out.executor = Int64(e.rawValue)
        case .peer(let e): out.target = "peer"; out.executor = Int64(e.rawValue)
        case .cloud(let p): out.target = "cloud"; out.provider = llm.providers[p.index].name
        case .rejected: break
        }
        if claims.role == .executor && d.target != .rejected { out.call = d.request }
        return out
    }

    struct CallCost: Encodable {
        var call: Int64
        var costUSD: Double
    }

    /// Ends a routed LLM call of this executor's, settling what it cost.
    func complete(executor: Int64, call: Int64, _ body: LLMCompletion) async throws -> CallCost {
        let outcome: LLMOutcome
        if body.succeeded {
            outcome = .succeeded(inputTokens: body.inputTokens ?? 0, outputTokens: body.outputTokens ?? 0)
        } else {
            outcome = .failed(retryAfter: body.retryAfterMs.map { .milliseconds(Int64($0)) })
        }
        let cost = try await requirePlane().complete(call: call, executor: executor, outcome)
        return CallCost(call: call, costUSD: Double(cost) / 1e6)
    }
}
