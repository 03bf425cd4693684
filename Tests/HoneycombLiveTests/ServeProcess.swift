import Foundation
import HoneycombLive
@testable import HoneycombServer
import HoneycombAPI
import HoneycombFleet
import Testing

/// `honeycomb serve` as a real process of its own (the debug build), on a fresh database and
/// namespace, with a key file the tests sign tokens with: what an operator runs, killed and
/// measured from outside.
struct ServeProcess {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    let dir: URL
    let key: Ed25519PrivateKey
    let keyFile: String
    let databaseURL: String
    let namespace: String
    let log: URL

    /// A new database, key and namespace in a new temporary folder.
    static func prepare(_ name: String, databaseURL: String? = nil) async throws -> ServeProcess {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeycomb-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let key = try Ed25519PrivateKey()
        let keyFile = dir.appendingPathComponent("key").path
        try Encoding.hex(key.seed).write(toFile: keyFile, atomically: true, encoding: .utf8)
        let db: String
        if let databaseURL { db = databaseURL } else { db = try await LiveEnvironment.freshDatabaseURL() }
        return ServeProcess(dir: dir, key: key, keyFile: keyFile, databaseURL: db,
                            namespace: "p\(UInt32.random(in: 0...UInt32.max))", log: dir.appendingPathComponent("serve.log"))
    }

    /// A free port on 127.0.0.1 (bound, read, released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Starts `honeycomb serve` on `port`, with gRPC on `grpcPort` when given (extra flags
    /// after the usual ones); waits until it is ready when `ready` (a standby never is).
    func start(port: Int, grpcPort: Int? = nil, _ extra: [String] = [], ready: Bool = true) async throws -> Process {
        let p = Process()
        p.executableURL = Self.root.appendingPathComponent(".build/debug/honeycomb")
        p.arguments = ["serve", "--port", String(port), "--database-url", databaseURL, "--signing-key", keyFile,
                       "--namespace", namespace, "--heartbeat-timeout", "10"] + (grpcPort.map { ["--grpc-port", String($0)] } ?? []) + extra
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let probe = APIClient(base: URL(string: "http://127.0.0.1:\(port)")!)
        let up = try await LiveEnvironment.eventually(60) {
            // Closed after its answer, so that it holds none of serve's connections (a test counts them).
            (try? await probe.send("GET", ready ? "/readyz" : "/healthz", headers: ["Connection": "close"]))?.status == 200
        }
        #expect(up, "serve did not come up; its log: \(log.path)")
        return p
    }

    func client(port: Int) -> APIClient { APIClient(base: URL(string: "http://127.0.0.1:\(port)")!) }

    func token(_ subject: String, _ role: Role) throws -> String {
        try TokenAuthority(signingKey: key).issue(subject: subject, role: role, ttl: 3600)
    }

    /// Publishes version 1 of `agent` (30 ms runs unless `profile` says otherwise, on executors
    /// with `labels`), signed by `publisher`.
    static func publish(_ agent: String, as client: APIClient, publisher: Ed25519PrivateKey, labels: [String: String]? = nil,
                        profile: [String: JSONValue] = ["runtimeMs": .number(30)]) async throws {
        let bundle = LiveHarness.wasm(agent)
        let _: LiveHarness.Published = try await client.call("POST", "/v1/agents/\(agent)/versions", json: PublishRequest(
            version: "1", description: nil, cpuMillis: 10, memoryBytes: 1, labels: labels, maxAttempts: 3,
            profile: .object(profile), bundle: Data(bundle).base64EncodedString(),
            signature: Encoding.hex(try publisher.sign(bundle)), publisherKey: Encoding.hex(publisher.publicKey.raw)))
    }

    /// Reference executors (four) of 16 slots each, heartbeating every 0.5 s, over REST or
    /// (given the service's gRPC port) gRPC, started.
    static func fleet(_ base: URL, admin: APIClient, count: Int = 4, grpcPort: Int? = nil,
                      labels: [String: String] = [:]) async throws -> ExecutorFleet {
        var fc = FleetConfiguration(controlPlane: base, natsURL: LiveEnvironment.env["HONEYCOMB_NATS_URL"]!,
                                    adminToken: admin.token!, count: count)
        fc.heartbeatInterval = 0.5
        fc.slots = 16
        fc.labels = labels
        if let grpcPort {
            fc.executorProtocol = .grpc
            fc.grpcPort = grpcPort
        }
        let fleet = try await ExecutorFleet(config: fc)
        try await fleet.start()
        return fleet
    }

    /// A process's resident memory in bytes, from /proc (VmRSS).
    static func residentBytes(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return kb * 1024
    }
}
