import Foundation
import HoneycombDriver
import Hummingbird
import NIOCore
import HoneycombLive

/// An RFC 9457 problem: every error the API returns, as `application/problem+json`, with a
/// message that says what was wrong and where. Never a stack trace or an internal detail.
struct Problem: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var title: String
    var detail: String
    /// Extra headers (`WWW-Authenticate`, `Retry-After`).
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ title: String, _ detail: String, headers: HTTPFields = [:]) {
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: [String: Any] = [
            "type": "https://honeycomb.hivefabric.dev/problems/\(title.lowercased().replacingOccurrences(of: " ", with: "-"))",
            "title": title, "status": Int(status.code), "detail": detail, "instance": request.uri.path,
        ]
        var h = headers
        h[.contentType] = "application/problem+json"
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func badRequest(_ detail: String) -> Problem { Problem(.badRequest, "Bad request", detail) }
    static func notFound(_ detail: String) -> Problem { Problem(.notFound, "Not found", detail) }
    static func forbidden(_ detail: String) -> Problem { Problem(.forbidden, "Forbidden", detail) }
    static func conflict(_ detail: String) -> Problem { Problem(.conflict, "Conflict", detail) }
    static func unprocessable(_ detail: String) -> Problem { Problem(.unprocessableContent, "Unprocessable content", detail) }
    static func unauthorized(_ detail: String) -> Problem {
        Problem(.unauthorized, "Unauthorized", detail, headers: [.wwwAuthenticate: "Bearer"])
    }
    static func unavailable(_ detail: String, retryAfter seconds: Int = 1) -> Problem {
        Problem(.serviceUnavailable, "Service unavailable", detail, headers: [.retryAfter: String(seconds)])
    }

    /// A dependency is away: an availability event, answered 503 with `Retry-After` and the
    /// name of what is unavailable, never a failure of anyone's work.
    static func dependencyUnavailable(_ dependency: Dependency) -> Problem {
        .unavailable("\(dependency.role) (\(dependency.rawValue)) is unavailable; retry later", retryAfter: 2)
    }

    /// The problem for any error a handler threw.
    static func from(_ error: Error) -> Problem {
        if let d = Dependency.away(in: error) { return .dependencyUnavailable(d) }
        switch error {
        case let p as Problem: return p
        case let r as PlaneRefusal:
            switch r {
            case .unknownTask, .unknownAgent, .unknownModel, .unknownExecutor, .unknownCall: return .notFound(r.description)
            case .notYours: return .forbidden(r.description)
            case .keyReused: return .unprocessable(r.description)
            case .keyReusedForBatch: return .conflict(r.description)
            case .storeUnavailable, .stopped: return .unavailable(r.description)
            case .dispatchUnavailable: return .unavailable(r.description, retryAfter: 5)
            }
        case let d as DecodingError: return .badRequest("the JSON body does not fit: \(describe(d))")
        case let e as JSONSyntaxError: return .badRequest("the body is not valid JSON: \(e)")
        case let e as HTTPResponseError where e.status == .notFound:
            return Problem(.notFound, "No such route", "no route answers this method and path")
        case let e as HTTPResponseError where e.status == .contentTooLarge:
            return Problem(.contentTooLarge, "Content too large", "the request body is larger than this route accepts")
        case let e as HTTPResponseError:
            return Problem(e.status, e.status.reasonPhrase, e.status.reasonPhrase)
        default:
            return Problem(.internalServerError, "Internal error", "the request failed inside the service; it is logged")
        }
    }

    /// A decoding error as "at items[2].name: expected a string".
    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            let p = c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the top level" : String(p.drop { $0 == "." })
        }
        switch e {
        case .keyNotFound(let key, let ctx): return "at \(path(ctx.codingPath + [key])): required, missing"
        case .typeMismatch(let type, let ctx):
            let found = ctx.debugDescription.hasPrefix("found ") ? ", \(ctx.debugDescription)" : ""
            return "at \(path(ctx.codingPath)): expected \(typeName(type))\(found)"
        case .valueNotFound(let type, let ctx): return "at \(path(ctx.codingPath)): expected \(typeName(type)), found null"
        case .dataCorrupted(let ctx):
            return ctx.codingPath.isEmpty ? "not valid JSON" : "at \(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "not what this route expects"
        }
    }

    private static func typeName(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type, is Int16.Type, is Int8.Type, is UInt.Type, is UInt64.Type, is UInt32.Type,
             is UInt16.Type, is UInt8.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        case is [String: Any].Type: "an object"
        case is [Any].Type: "an array"
        default: "\(t)"
        }
    }
}

/// Turns every error into a problem, counts requests, and never lets a detail out.
struct ProblemMiddleware: RouterMiddleware {
    let metrics: ServiceMetrics
    let methods: MethodTable

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let start = WallClock.nanoseconds()
        defer {
            metrics.requests.increment()
            metrics.requestSeconds.recordNanoseconds(WallClock.nanoseconds() - start)
        }
        do {
            return try await next(request, context)
        } catch {
            metrics.requestErrors.increment()
            if let d = Dependency.away(in: error) { metrics.noteFailed(d) }
            var problem = Problem.from(error)
            if problem.status == .notFound, let e = error as? HTTPResponseError, e.status == .notFound, !(error is Problem),
               let allow = methods.allowed(request.uri.path) {
                problem = Problem(.methodNotAllowed, "Method not allowed", "this path answers \(allow) only", headers: [.allow: allow])
            }
            if problem.status == .internalServerError {
                context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            }
            if problem.headers[.connection] == "close" {
                // The server closes the connection once this answer is written (rather than
                // reading on what the client still sends).
                context.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            }
            return try problem.response(from: request, context: context)
        }
    }
}
