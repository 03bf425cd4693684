import Foundation
import HoneycombAPI
import HoneycombDriver
import HoneycombLive
import Hummingbird

/// The marketplace: publishing signed versions, browsing them, fetching verified bundles.
enum AgentRoutes {
    static func routes(_ s: HoneycombService) -> [Route] {
        [
            (RouteSpec(method: .post, path: "/v1/agents/:name/versions", roles: [.user, .admin],
                       summary: "Publish an agent version with its signed bundle", requestBody: PublishRequest.self,
                       answers: [Answer(status: 201, body: "Published", note: "Stored, and offered to the scheduler",
                                        links: [("GetBundle", "getV1AgentsNameVersionsVersionBundle",
                                                 ["name": "$request.path.name", "version": "$response.body#/version"])])]),
             { request, context in try await publish(s, request, context) }),
            (RouteSpec(method: .get, path: "/v1/agents", roles: [.admin, .user, .executor], summary: "Browse the marketplace",
                       answers: [.ok("Marketplace", "Every agent with its versions")]),
             { _, _ in try API.json(["agents": try await s.store.marketplace()]) }),
            (RouteSpec(method: .get, path: "/v1/agents/:name/versions/:version/bundle", roles: [.admin, .executor],
                       summary: "Fetch a verified bundle",
                       answers: [Answer(status: 200, type: "application/wasm", note: "The bundle, its digest and signature checked again")]),
             { _, context in try await bundle(s, context) }),
        ]
    }

    static func publish(_ s: HoneycombService, _ request: Request, _ context: APIContext) async throws -> Response {
        let claims = try context.requireClaims()
        let name = try context.pathName("name")
        // Base64 makes the body a third larger than the bundle.
        let body = try await s.body(request, as: PublishRequest.self, limit: s.config.maxBundleBytes * 4 / 3 + (64 << 10))
        guard let bundle = Data(base64Encoded: body.bundle).map(Array.init) else { throw Problem.badRequest("bundle: expected base64") }
        guard bundle.count <= s.config.maxBundleBytes else {
            throw Problem(.contentTooLarge, "Content too large", "bundle: \(bundle.count) bytes, more than \(s.config.maxBundleBytes)")
        }
        guard bundle.starts(with: [0x00, 0x61, 0x73, 0x6d]) else {
            throw Problem.unprocessable("bundle: not a WebAssembly module (it must start with \\0asm)")
        }
        let subject = "agent/\(name)/\(body.version)"
        func refuse(_ why: String) async -> Problem {
            s.metrics.bundlesRefused.increment()
            await s.audit(actor: claims.sub, action: "bundle.refused", subject: subject, detail: ["reason": why])
            return Problem.unprocessable(why)
        }
        if let why = BundleCheck.failure(of: bundle, publisherKey: body.publisherKey, signature: body.signature) {
            throw await refuse("the bundle was refused: \(why)")
        }
        let plane = try s.requirePlane()
        let otherKey = "publisherKey: agent \(name) is published under another key; every version must be signed by it"
        if let k = try await s.store.publisherKey(agent: name), k != body.publisherKey { throw await refuse(otherKey) }
        let sha = Encoding.hex(Digest.sha256(bundle))
        let key = "agents/\(name)/\(body.version)/\(sha).wasm"
        try await s.s3.put(bucket: s.config.bucket, key: key, data: bundle, contentType: "application/wasm")
        let row: StoredAgent
        do {
            row = try await s.store.publish(agent: name, owner: try await s.userID(claims), by: claims.sub, body, bundleKey: key,
                                            sha256: sha, size: bundle.count)
        } catch APIStore.PublishConflict.versionExists {
            throw Problem.conflict("agent \(name) version \(body.version) exists; versions are immutable, publish another")
        } catch APIStore.PublishConflict.otherPublisherKey {
            throw await refuse(otherKey)
        }
        // Stored now: a plane that cannot take it at once (its store failed) rebuilds from the store, which holds it.
        try? await plane.published(row)
        return try API.json(["agent": name, "version": body.version, "sha256": sha], status: .created)
    }

    /// The bundle, re-verified against its recorded digest and signature before it is offered.
    static func bundle(_ s: HoneycombService, _ context: APIContext) async throws -> Response {
        let claims = try context.requireClaims()
        let name = try context.pathName("name")
        let version = try context.pathName("version")
        guard let row = try await s.store.agentVersion(name: name, version: version) else {
            throw Problem.notFound("there is no agent \(name) version \(version)")
        }
        guard let bytes = try await s.s3.get(bucket: s.config.bucket, key: row.bundleKey) else {
            throw Problem(.badGateway, "Bundle missing", "the bundle of \(name) \(version) is missing from storage")
        }
        if let why = BundleCheck.failure(of: bytes, publisherKey: row.publisherKey, signature: row.signature,
                                         sha256: row.bundleSHA256) {
            s.metrics.bundlesRefused.increment()
            await s.audit(actor: claims.sub, action: "bundle.refused", subject: "agent/\(name)/\(version)", detail: ["reason": why])
            throw Problem(.conflict, "Bundle refused", "the stored bundle of \(name) \(version) was refused: \(why)")
        }
        return Response(status: .ok, headers: [.contentType: "application/wasm"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
