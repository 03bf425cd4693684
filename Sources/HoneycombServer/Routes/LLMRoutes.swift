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
        try API.json(try await s.route(try context.requireClaims(), try await s.body(request, as: LLMRouteBody.self)))
    }

    static func complete(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let executor = try Int64(context.requireClaims().sub) ?? 0
        let call = try context.pathID("call")
        return try API.json(try await s.complete(executor: executor, call: call, try await s.body(request, as: LLMCompletion.self)))
    }
}
