import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombDriver
import HoneycombLive
import Hummingbird

/// Local-first LLM routing: where a call should go, and how it ended.
enum LLMRoutes {
    static func routes(_ s: HoneycombService) -> [Route] {
        [
            (RouteSpec(method: .post, path: "/v1/llm/route", roles: [.admin, .user, .executor],
                       summary: "Ask where an LLM call should go", requestBody: LLMRouteBody.self,
                       answers: [.ok("Route", "The router's decision (for a user, advice: nothing is reserved)")]),
             { request, context in try await route(s, request, context) }),
            (RouteSpec(method: .post, path: "/v1/llm/calls/:call/complete", roles: [.executor],
                       summary: "Report a routed LLM call's end", requestBody: LLMCompletion.self,
                       answers: [.ok("CallCost", "Settled: what the call cost")]),
             { request, context in try await complete(s, request, context) }),
        ]
    }

    static func route(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let claims = try context.requireClaims()
        let body = try await s.body(request, as: LLMRouteBody.self)
        if claims.role == .executor && claims.sub != String(body.executor) {
            throw Problem.forbidden("an executor may ask only for calls of its own (executor \(claims.sub))")
        }
        // An executor's question reserves capacity until it reports the call's end; a user's
        // is advice and reserves nothing.
        let plane = try s.requirePlane()
        let d = claims.role == .executor ? try await plane.route(body) : try await plane.advise(body)
        let models = s.config.plane.llm.models
        var out: [String: JSONValue] = ["reason": .string(d.reason.rawValue), "model": .string(models[d.model.index].name),
                                        "predictedLatencyMs": .number(d.predictedLatency.seconds * 1000),
                                        "reservedUSD": .number(Double(d.reservedMicroUSD) / 1e6)]
        switch d.target {
        case .local(let e): out["target"] = .string("local"); out["executor"] = .number(Double(e.rawValue))
        case .peer(let e): out["target"] = .string("peer"); out["executor"] = .number(Double(e.rawValue))
        case .cloud(let p): out["target"] = .string("cloud"); out["provider"] = .string(s.config.plane.llm.providers[p.index].name)
        case .rejected: out["target"] = .string("rejected")
        }
        if claims.role == .executor && d.target != .rejected { out["call"] = .number(Double(d.request)) }
        return try API.json(out)
    }

    static func complete(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let executor = try Int64(context.requireClaims().sub) ?? 0
        let call = try context.pathID("call")
        let body = try await s.body(request, as: LLMCompletion.self)
        let outcome: LLMOutcome
        if body.succeeded {
            outcome = .succeeded(inputTokens: body.inputTokens ?? 0, outputTokens: body.outputTokens ?? 0)
        } else {
            outcome = .failed(retryAfter: body.retryAfterMs.map { .milliseconds(Int64($0)) })
        }
        let cost = try await s.requirePlane().complete(call: call, executor: executor, outcome)
        return try API.json(["call": JSONValue.number(Double(call)), "costUSD": .number(Double(cost) / 1e6)])
    }
}
