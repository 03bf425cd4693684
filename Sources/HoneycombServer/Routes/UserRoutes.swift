import Foundation
import HoneycombAPI
import HoneycombLive
import Hummingbird

/// Users and their tokens.
enum UserRoutes {
    static func routes(_ s: HoneycombService) -> [Route] {
        [
            (RouteSpec(method: .post, path: "/v1/users", roles: [.admin], summary: "Create a user and issue a token",
                       requestBody: UserRequest.self, answers: [.created("UserToken", "The user, with a token")]), { request, context in
                try await createUser(s, request, context)
            }),
        ]
    }

    static func createUser(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let body = try await s.body(request, as: UserRequest.self)
        let ttl = body.ttlSeconds ?? 86400
        let claims = TokenClaims(sub: body.name, role: body.role, iat: TokenAuthority.now(), exp: TokenAuthority.now() + ttl)
        _ = try await s.userID(claims)
        await s.audit(actor: try context.requireClaims().sub, action: "user.token", subject: "user/\(body.name)",
                      detail: ["role": body.role.rawValue])
        return try API.json(["name": body.name, "role": body.role.rawValue, "token": try s.authority.issue(claims)], status: .created)
    }
}
