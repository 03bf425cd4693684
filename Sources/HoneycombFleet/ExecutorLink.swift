import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import HoneycombAPI
import HoneycombDriver
import HoneycombGRPC
import Synchronization

/// Which protocol a reference executor speaks to the plane.
public enum ExecutorProtocol: String, Sendable, CaseIterable {
    case rest, grpc
}

/// An enrolled executor's credentials and dispatch subject.
struct Enrollment: Decodable, Sendable {
    var id: Int64
    var token: String
    var stream: String
    var subject: String
}

/// What a reference executor asks of the plane, in either protocol: the REST routes, or the
/// gRPC executor service with its one stream. Failures are `APIError`s with the HTTP status
/// the REST route would have answered (0: no answer), so the executor's retry rules are one.
protocol ExecutorLink: Sendable {
    func register(_ body: ExecutorSpecBody) async throws
    /// True when the plane wants the executor to register again.
    func heartbeat() async throws -> Bool
    /// For each report, whether the plane took it.
    func report(_ body: ReportsRequest) async throws -> [Bool]
    /// The route's target, and the call to end (when one was reserved).
    func route(_ body: LLMRouteBody) async throws -> (target: String, call: Int64?)
    func complete(call: Int64, _ body: LLMCompletion) async throws
}

/// The REST routes under /v1/executors/{id} and /v1/llm.
struct RESTLink: ExecutorLink {
    let client: APIClient
    let id: Int64

    static func enroll(_ base: URL, token: String, name: String) async throws -> Enrollment {
        try await APIClient(base: base).call("POST", "/v1/executors/enroll", json: EnrollRequest(enrollmentToken: token, name: name))
    }

    func register(_ body: ExecutorSpecBody) async throws {
        let _: [String: JSONValue] = try await client.call("POST", "/v1/executors/\(id)/register", json: body)
    }

    func heartbeat() async throws -> Bool {
        struct Beat: Decodable { var reregister: Bool }
        let b: Beat = try await client.call("POST", "/v1/executors/\(id)/heartbeat")
        return b.reregister
    }

    func report(_ body: ReportsRequest) async throws -> [Bool] {
        struct Answer: Decodable { var accepted: [Bool] }
        let a: Answer = try await client.call("POST", "/v1/executors/\(id)/reports", json: body)
        return a.accepted
    }

    func route(_ body: LLMRouteBody) async throws -> (target: String, call: Int64?) {
        struct Route: Decodable { var target: String; var call: Int64? }
        let r: Route = try await client.call("POST", "/v1/llm/route", json: body)
        return (r.target, r.call)
    }

    func complete(call: Int64, _ body: LLMCompletion) async throws {
        let _: [String: JSONValue] = try await client.call("POST", "/v1/llm/calls/\(call)/complete", json: body)
    }
}

/// A gRPC client of the executor service, shared by up to `executorsPerConnection` executors
/// (one HTTP/2 connection, their streams multiplexed on it).
final class GRPCConnection: Sendable {
    typealias Client = GRPCClient<HTTP2ClientTransport.Posix>
    let client: Client
    private let runner: Task<Void, Never>
    static let executorsPerConnection = 64

    init(host: String, port: Int) throws {
        let transport = try HTTP2ClientTransport.Posix(target: .ipv4(address: host, port: port), transportSecurity: .plaintext)
        let client = Client(transport: transport)
        self.client = client
        runner = Task { try? await client.runConnections() }
    }

    var service: Honeycomb_Executor_V1_ExecutorService.Client<HTTP2ClientTransport.Posix> { .init(wrapping: client) }

    func close() {
        client.beginGracefulShutdown()
    }

    deinit { runner.cancel() }
}

/// The gRPC executor service: unary calls for registering and LLM routes, and one Connect
/// stream, opened on first use and again after it breaks, for heartbeats and reports.
final class GRPCLink: ExecutorLink {
    let connection: GRPCConnection
    let metadata: Metadata
    private let stream: StreamCalls
    /// How long a call may take, answer included (as REST's 30 s).
    static let timeout: Duration = .seconds(30)

    init(connection: GRPCConnection, token: String) {
        self.connection = connection
        var m = Metadata()
        m.addString("Bearer \(token)", forKey: "authorization")
        metadata = m
        stream = StreamCalls(connection: connection, metadata: m)
    }

    static func enroll(_ connection: GRPCConnection, token: String, name: String) async throws -> Enrollment {
        try await unary {
            let e = try await connection.service.enroll(EnrollRequest(enrollmentToken: token, name: name).message, options: options)
            return Enrollment(id: e.id, token: e.token, stream: e.stream, subject: e.subject)
        }
    }

    func register(_ body: ExecutorSpecBody) async throws {
        _ = try await Self.unary { try await connection.service.register(.init(body), metadata: metadata, options: Self.options) }
    }

    func heartbeat() async throws -> Bool {
        var m = GRPCExecutorMessage()
        m.heartbeat = .init()
        return try await stream.call(m).heartbeat.reregister
    }

    func report(_ body: ReportsRequest) async throws -> [Bool] {
        var m = GRPCExecutorMessage()
        m.reports = .init(body)
        return try await stream.call(m).reports.accepted
    }

    func route(_ body: LLMRouteBody) async throws -> (target: String, call: Int64?) {
        let r = try await Self.unary { try await connection.service.routeLLM(.init(body), metadata: metadata, options: Self.options) }
        return (r.target, r.hasCall ? r.call : nil)
    }

    func complete(call: Int64, _ body: LLMCompletion) async throws {
        _ = try await Self.unary {
            try await connection.service.completeLLM(.init(call: call, body), metadata: metadata, options: Self.options)
        }
    }

    /// Ends the executor's stream.
    func close() async { await stream.close() }

    static var options: CallOptions {
        var o = CallOptions.defaults
        o.timeout = timeout
        return o
    }

    /// Runs a unary call, its failure as the `APIError` REST would have given.
    static func unary<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw apiError(error) }
    }

    /// The HTTP status REST answers where gRPC answers `code` (0: no answer at all).
    static func apiError(_ error: any Error) -> APIError {
        guard let e = error as? RPCError else { return APIError(status: 0, detail: "gRPC: \(error)") }
        let status: Int = switch e.code {
        case .invalidArgument: 400
        case .unauthenticated: 401
        case .permissionDenied: 403
        case .notFound: 404
        case .alreadyExists: 409
        case .resourceExhausted: 429
        case .unavailable where e.metadata[stringValues: "retry-after"].contains(where: { _ in true }): 503
        case .unavailable, .deadlineExceeded, .cancelled: 0  // the transport's: no answer from the service
        default: 500
        }
        return APIError(status: status, detail: e.message)
    }
}

extension EnrollRequest {
    var message: Honeycomb_Executor_V1_EnrollRequest {
        var m = Honeycomb_Executor_V1_EnrollRequest()
        m.enrollmentToken = enrollmentToken
        m.name = name
        return m
    }
}

/// One executor's Connect stream: messages numbered, answers matched to their callers by
/// `seq`. A broken stream fails every call waiting on it; the next call opens a new one. A
/// call unanswered within `GRPCLink.timeout` fails (checked each second while it is open).
actor StreamCalls {
    let connection: GRPCConnection
    let metadata: Metadata
    private var seq: UInt64 = 0
    private var waiting: [UInt64: (answer: CheckedContinuation<GRPCPlaneMessage, any Error>, deadline: ContinuousClock.Instant)] = [:]
    private var outbox: AsyncStream<GRPCExecutorMessage>.Continuation?
    private var generation = 0

    init(connection: GRPCConnection, metadata: Metadata) {
        self.connection = connection
        self.metadata = metadata
    }

    /// Sends `message` on the stream and waits for its answer; a `Problem` answer throws as
    /// REST's problem would.
    func call(_ message: GRPCExecutorMessage) async throws -> GRPCPlaneMessage {
        seq &+= 1
        var m = message
        m.seq = seq
        let key = seq
        let out = open()
        let answer = try await withCheckedThrowingContinuation { k in
            waiting[key] = (k, .now + GRPCLink.timeout)
            out.yield(m)
        }
        if case .problem(let p)? = answer.kind { throw APIError(status: Int(p.status), detail: p.detail) }
        return answer
    }

    /// The open stream's outbox, opening the stream when there is none.
    private func open() -> AsyncStream<GRPCExecutorMessage>.Continuation {
        if let outbox { return outbox }
        let (messages, out) = AsyncStream.makeStream(of: GRPCExecutorMessage.self)
        outbox = out
        generation += 1
        let generation = generation
        let service = connection.service
        let metadata = metadata
        Task {
            do {
                try await service.connect(metadata: metadata, requestProducer: { writer in
                    for await m in messages { try await writer.write(m) }
                }, onResponse: { response in
                    for try await answer in response.messages { await self.resolve(answer) }
                })
                await self.broken(generation, APIError(status: 0, detail: "the Connect stream ended"))
            } catch {
                await self.broken(generation, GRPCLink.apiError(error))
            }
        }
        Task {
            while await self.sweep(generation) { try? await Task.sleep(for: .seconds(1)) }
        }
        return out
    }

    private func resolve(_ answer: GRPCPlaneMessage) {
        waiting.removeValue(forKey: answer.seq)?.answer.resume(returning: answer)
    }

    /// Fails the calls past their deadline; false once the stream of `generation` is gone.
    private func sweep(_ generation: Int) -> Bool {
        guard generation == self.generation, outbox != nil else { return false }
        let now = ContinuousClock.now
        for (key, w) in waiting where w.deadline <= now {
            waiting.removeValue(forKey: key)
            w.answer.resume(throwing: APIError(status: 0, detail: "the Connect stream gave no answer within \(GRPCLink.timeout)"))
        }
        return true
    }

    /// The stream of `generation` ended: its callers fail, and the next call opens another.
    private func broken(_ generation: Int, _ error: APIError) {
        guard generation == self.generation else { return }
        outbox?.finish()
        outbox = nil
        let failed = waiting
        waiting = [:]
        for w in failed.values { w.answer.resume(throwing: error) }
    }

    /// Ends the stream (the executor stops).
    func close() {
        outbox?.finish()
        outbox = nil
    }
}
