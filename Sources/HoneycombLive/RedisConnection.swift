import CHiredis
import Foundation

/// An error from Redis or hiredis.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// A Redis reply.
public enum RedisReply: Equatable, Sendable {
    case string(String)
    case integer(Int)
    case array([RedisReply])
    case null
    case status(String)
}

/// One connection to Redis through hiredis. Its blocking calls run on the connection's own
/// serial queue, never on Swift's cooperative pool.
public final class RedisConnection: @unchecked Sendable {
    // @unchecked: the redisContext is touched only on `queue`, one call at a time.
    private let context: UnsafeMutablePointer<redisContext>
    private let queue = DispatchQueue(label: "honeycomb.redis")

    /// Connects to `url` (`redis://host:port`), waiting at most `timeout` seconds.
    /// Connects from a dispatch thread: the connect blocks, and must not hold the
    /// cooperative pool.
    public static func connect(url: String, timeout: Double = 5) async throws -> RedisConnection {
        try await withCheckedThrowingContinuation { k in
            DispatchQueue.global().async { k.resume(with: Result { try RedisConnection(url: url, timeout: timeout) }) }
        }
    }

    /// Connects on the calling thread (it blocks; from async code use `connect`).
    public init(url: String, timeout: Double = 5) throws {
        guard let u = URLComponents(string: url), u.scheme == "redis", let host = u.host else {
            throw RedisError(description: "expected a URL such as redis://127.0.0.1:6379, got '\(url)'")
        }
        let tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - floor(timeout)) * 1e6))
        guard let c = redisConnectWithTimeout(host, Int32(u.port ?? 6379), tv) else {
            throw RedisError(description: "hiredis could not allocate a connection")
        }
        if c.pointee.err != 0 {
            let message = withUnsafeBytes(of: c.pointee.errstr) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            redisFree(c)
            throw RedisError(description: "cannot connect to Redis at \(host):\(u.port ?? 6379): \(message)")
        }
        context = c
    }

    deinit { redisFree(context) }

    /// Runs one command given as its words (`["SET", "k", "v", "PX", "30000"]`).
    @discardableResult
    public func command(_ words: [String]) async throws -> RedisReply {
        try await withCheckedThrowingContinuation { k in
            queue.async { k.resume(with: Result { try self.run(words) }) }
        }
    }

    /// Runs the commands in one round trip (pipelined: all are sent, then all replies read),
    /// in order, as one call on the connection's queue, so that nothing else interleaves.
    /// Each command's reply, or the error Redis answered it with; throws when the connection
    /// fails, and then none of the commands' effects is known.
    public func pipeline(_ commands: [[String]]) async throws -> [Result<RedisReply, RedisError>] {
        guard !commands.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { k in
            queue.async { k.resume(with: Result { try self.runPipelined(commands) }) }
        }
    }

    private func run(_ words: [String]) throws -> RedisReply {
        try runPipelined([words])[0].get()
    }

    private func runPipelined(_ commands: [[String]]) throws -> [Result<RedisReply, RedisError>] {
        // A context that failed once is unusable: reconnect before the next command, so a
        // Redis restart costs the commands that met it, not every command after.
        if context.pointee.err != 0 && redisReconnect(context) != 0 {
            throw RedisError(description: "Redis is unreachable: \(errorText())")
        }
        for words in commands {
            var argv: [UnsafePointer<CChar>?] = words.map { UnsafePointer(strdup($0)) }
            defer { argv.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
            var lengths = words.map { $0.utf8.count }
            guard redisAppendCommandArgv(context, Int32(words.count), &argv, &lengths) == REDIS_OK else {
                throw RedisError(description: "Redis connection failed: \(errorText())")
            }
        }
        var replies: [Result<RedisReply, RedisError>] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                throw RedisError(description: "Redis connection failed: \(errorText())")
            }
            defer { freeReplyObject(raw) }
            replies.append(Result { try Self.reply(raw.assumingMemoryBound(to: redisReply.self)) }
                .mapError { $0 as? RedisError ?? RedisError(description: "\($0)") })
        }
        return replies
    }

    private func errorText() -> String {
        withUnsafeBytes(of: context.pointee.errstr) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    }

    private static func reply(_ r: UnsafeMutablePointer<redisReply>) throws -> RedisReply {
        let text = { String(decoding: UnsafeRawBufferPointer(start: r.pointee.str, count: Int(r.pointee.len)), as: UTF8.self) }
        switch r.pointee.type {
        case REDIS_REPLY_STRING: return .string(text())
        case REDIS_REPLY_STATUS: return .status(text())
        case REDIS_REPLY_INTEGER: return .integer(Int(r.pointee.integer))
        case REDIS_REPLY_NIL: return .null
        case REDIS_REPLY_ARRAY:
            return .array(try (0..<Int(r.pointee.elements)).map { try reply(r.pointee.element[$0]!) })
        case REDIS_REPLY_ERROR: throw RedisError(description: "Redis: \(text())")
        default: throw RedisError(description: "Redis: a reply of unknown type \(r.pointee.type)")
        }
    }
}

/// Executor presence in Redis: a key per executor that lives as long as its heartbeats keep
/// renewing it. What it holds (the executor's incarnation) can be rebuilt from PostgreSQL.
public struct ExecutorPresence: Sendable {
    public let redis: RedisConnection
    /// Keeps several deployments (or tests) apart on one Redis.
    public let namespace: String
    public init(redis: RedisConnection, namespace: String = "honeycomb") {
        self.redis = redis
        self.namespace = namespace
    }

    private func key(_ executor: Int64) -> String { "\(namespace):presence:executor:\(executor)" }

    /// Marks the executor present for `ttl` seconds (a heartbeat).
    public func mark(_ executor: Int64, incarnation: UInt32, ttl: Double) async throws {
        try await mark([(executor, incarnation)], ttl: ttl)
    }

    /// Marks each executor present for `ttl` seconds with its incarnation: heartbeats, in
    /// round trips of up to `Self.pipelineDepth` commands rather than one each.
    public func mark(_ marks: [(executor: Int64, incarnation: UInt32)], ttl: Double) async throws {
        let px = Self.milliseconds(ttl)
        try await run(marks) { ["SET", key($0.executor), String($0.incarnation), "PX", px] }
    }

    /// Marks each executor present (incarnation unknown: 0) unless a key for it exists, which
    /// its own heartbeat may have set since the caller looked (`SET NX`: nothing is read, and
    /// a key that exists keeps its value and its time to live).
    public func markIfAbsent(_ executors: [Int64], ttl: Double) async throws {
        let px = Self.milliseconds(ttl)
        try await run(executors) { ["SET", key($0), "0", "PX", px, "NX"] }
    }

    /// Commands per round trip: enough that the trip costs little beside them, few enough
    /// that Redis answers other clients in between.
    public static let pipelineDepth = 512

    private static func milliseconds(_ seconds: Double) -> String { String(Int((seconds * 1000).rounded())) }

    /// Runs a command for each item, pipelined `pipelineDepth` at a time (each round trip's
    /// commands made as it goes: a million executors' would take hundreds of megabytes at
    /// once), and returns their replies in order; throws the first error.
    @discardableResult
    private func run<T>(_ items: [T], _ command: (T) -> [String]) async throws -> [RedisReply] {
        var replies: [RedisReply] = []
        replies.reserveCapacity(items.count)
        var start = 0
        while start < items.count {
            let end = min(start + Self.pipelineDepth, items.count)
            for reply in try await redis.pipeline(items[start..<end].map(command)) { replies.append(try reply.get()) }
            start = end
        }
        return replies
    }

    /// The incarnation the executor last heartbeat with, while its presence lasts.
    public func incarnation(of executor: Int64) async throws -> UInt32? {
        if case .string(let s) = try await redis.command(["GET", key(executor)]) { return UInt32(s) }
        return nil
    }

    /// Every executor present now, in id order (SCAN, so a large fleet never blocks Redis).
    public func present() async throws -> [Int64] {
        var cursor = "0"
        var ids: [Int64] = []
        repeat {
            guard case .array(let parts) = try await redis.command(["SCAN", cursor, "MATCH", key(0).dropLast() + "*",
                                                                   "COUNT", "1000"]),
                  parts.count == 2, case .string(let next) = parts[0], case .array(let keys) = parts[1] else {
                throw RedisError(description: "Redis: an unexpected SCAN reply")
            }
            for case .string(let k) in keys { if let id = Int64(k.split(separator: ":").last ?? "") { ids.append(id) } }
            cursor = next
        } while cursor != "0"
        return ids.sorted()
    }

    /// Whether each of `executors` is present now, in their order: pipelined `EXISTS`, a
    /// round trip per `pipelineDepth`, so that a page of a large fleet costs its own size,
    /// not a scan of every key.
    public func present(among executors: [Int64]) async throws -> [Bool] {
        try await run(executors) { ["EXISTS", key($0)] }.map(Self.exists)
    }

    private var refillKey: String { "\(namespace):presence:refilled" }

    /// True while Redis holds the mark of the last refill, a key without a TTL that only a
    /// flush, a restart without persistence or a deletion takes away.
    public func refilled() async throws -> Bool { try Self.exists(try await redis.command(["EXISTS", refillKey])) }

    private static func exists(_ reply: RedisReply) throws -> Bool {
        guard case .integer(let n) = reply else { throw RedisError(description: "Redis: an unexpected EXISTS reply \(reply)") }
        return n > 0
    }

    public func noteRefilled() async throws { try await redis.command(["SET", refillKey, "1"]) }

    /// Forgets the executor (it left).
    public func remove(_ executor: Int64) async throws { try await redis.command(["DEL", key(executor)]) }
}
