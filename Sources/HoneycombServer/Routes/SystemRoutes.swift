import Foundation
import HoneycombLive
import Hummingbird

/// Health, readiness, metrics and the OpenAPI document.
enum SystemRoutes {
    static func routes(_ s: HoneycombService) -> [Route] {
        [
            (RouteSpec(method: .get, path: "/healthz", roles: [], summary: "Liveness", answers: [.ok("Health", "Alive")]), { _, _ in
                try API.json(["status": "ok"])
            }),
            (RouteSpec(method: .get, path: "/readyz", roles: [], summary: "Readiness: dependencies reachable",
                       answers: [.ok("Readiness", "Ready: every dependency answers, and this replica schedules"),
                                 Answer(status: 503, body: "Readiness", note: "Not ready: what is not")]), { _, _ in
                try await readiness(s)
            }),
            (RouteSpec(method: .get, path: "/metrics", roles: [.admin], summary: "Read Prometheus metrics",
                       answers: [Answer(status: 200, type: "text/plain", note: "Prometheus's text exposition format")]), { _, _ in
                _ = await dependencies(s)
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                                body: .init(byteBuffer: ByteBuffer(bytes: s.metrics.render())))
            }),
            (RouteSpec(method: .get, path: "/openapi.json", roles: [.admin, .user, .executor],
                       summary: "Read this API's OpenAPI document", answers: [.ok("OpenAPIDocument", "This document")]), { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json"],
                         body: .init(byteBuffer: ByteBuffer(bytes: OpenAPI.document(API.routes(s).map(\.0), contract: s.contract))))
            }),
        ]
    }

    static func readiness(_ s: HoneycombService) async throws -> Response {
        var checks: [String: String] = [:]
        for (d, state) in await dependencies(s) { checks[d.label] = state }
        checks["scheduler"] = s.plane != nil ? "active" : "standby"
        let ready = checks.values.allSatisfy { $0 == "ok" || $0 == "active" }
        return try API.json(checks, status: ready ? .ok : .serviceUnavailable)
    }

    /// Each dependency's state now: `ok`, `unreachable`, or (S3) `no bucket`; the metrics' up
    /// gauges follow.
    static func dependencies(_ s: HoneycombService) async -> [(Dependency, String)] {
        var found: [(Dependency, String)] = []
        for d in Dependency.allCases {
            var state = "ok"
            switch d {
            case .postgres: if (try? await s.store.ping()) == nil { state = "unreachable" }
            case .redis: if (try? await s.redis.command(["PING"])) == nil { state = "unreachable" }
            case .nats: if !s.nats.isConnected { state = "unreachable" }
            case .s3:
                switch try? await s.s3.bucketExists(s.config.bucket) {
                case true?: break
                case false?: state = "no bucket"
                case nil: state = "unreachable"
                }
            }
            s.metrics.noteChecked(d, up: state == "ok")
            found.append((d, state))
        }
        return found
    }
}
