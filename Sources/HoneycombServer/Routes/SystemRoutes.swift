import Foundation
import HoneycombLive
import Hummingbird

/// Health, readiness, metrics and the OpenAPI document.
enum SystemRoutes {
    static func routes(_ s: HoneycombService) -> [Route] {
        [
            (RouteSpec(method: .get, path: "/healthz", roles: [], summary: "Liveness"), { _, _ in
                try API.json(["status": "ok"])
            }),
            (RouteSpec(method: .get, path: "/readyz", roles: [], summary: "Readiness: dependencies reachable"), { _, _ in
                try await readiness(s)
            }),
            (RouteSpec(method: .get, path: "/metrics", roles: [.admin], summary: "Read Prometheus metrics"), { _, _ in
                let p = s.plane
                let queued = await p?.queued ?? 0
                let c = await p?.counters
                let text = s.metrics.render(leader: p != nil, queued: queued,
                                            counters: c.map { ($0.dispatched, $0.retried, $0.rescheduled, $0.executorsLost) })
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                                body: .init(byteBuffer: ByteBuffer(string: text)))
            }),
            (RouteSpec(method: .get, path: "/openapi.json", roles: [.admin, .user, .executor],
                       summary: "Read this API's OpenAPI document"), { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json"],
                         body: .init(byteBuffer: ByteBuffer(bytes: OpenAPI.document(API.routes(s).map(\.0)))))
            }),
        ]
    }

    static func readiness(_ s: HoneycombService) async throws -> Response {
        var checks: [String: String] = [:]
        do { try await s.store.ping(); checks["postgres"] = "ok" } catch { checks["postgres"] = "unreachable" }
        do { _ = try await s.redis.command(["PING"]); checks["redis"] = "ok" } catch { checks["redis"] = "unreachable" }
        checks["nats"] = s.nats.isConnected ? "ok" : "unreachable"
        do { checks["s3"] = try await s.s3.bucketExists(s.config.bucket) ? "ok" : "no bucket" } catch { checks["s3"] = "unreachable" }
        checks["scheduler"] = s.plane != nil ? "active" : "standby"
        let ready = checks.values.allSatisfy { $0 == "ok" || $0 == "active" }
        return try API.json(checks, status: ready ? .ok : .serviceUnavailable)
    }
}
