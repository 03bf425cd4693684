import Foundation
import HoneycombAPI
import HoneycombLive
import HoneycombStats
import Synchronization

/// The live benchmark: reference executors take tasks while submitters offer them at a target
/// rate (open loop: a submitter that falls behind sends at once, so a rate the service cannot
/// take shows as fewer accepted per second, not as a slower clock).
public struct LoadTest: Sendable {
    public var fleet: FleetConfiguration
    public var rate: Double
    public var duration: Double
    public var connections: Int
    public var runtimeMs: Double = 1
    /// Tasks per submission request (1: `POST /v1/tasks`; more: `POST /v1/task-batches`).
    public var batch = 1

    public init(fleet: FleetConfiguration, rate: Double, duration: Double, connections: Int) {
        self.fleet = fleet
        self.rate = rate
        self.duration = duration
        self.connections = connections
    }

    public struct Figures: Sendable, CustomStringConvertible {
        public var offered = 0
        public var batch = 1
        public var accepted = 0
        public var refused = 0
        public var seconds = 0.0
        public var completed = 0
        public var completionSeconds = 0.0
        public var submitLatencies: [Double] = []
        public var dispatchLatencies: [Double] = []
        public var errors: [String] = []

        public var description: String {
            func ms(_ x: Double) -> String { String(format: "%.1f ms", x * 1000) }
            let submit = submitLatencies.sorted(), dispatch = dispatchLatencies.sorted()
            return """
            offered \(offered) tasks (\(batch) per request) in \(String(format: "%.1f", seconds)) s; accepted \(accepted) \
            (\(String(format: "%.0f", Double(accepted) / seconds)) tasks/s), refused \(refused)
            submit round trip: p50 \(ms(Statistics.quantile(sorted: submit, 0.5))), p99 \(ms(Statistics.quantile(sorted: submit, 0.99)))
            submit to dispatch (accepted by the plane → delivered to the executor): p50 \
            \(ms(Statistics.quantile(sorted: dispatch, 0.5))), p99 \(ms(Statistics.quantile(sorted: dispatch, 0.99))) \
            over \(dispatchLatencies.count) first deliveries
            completed \(completed) of the accepted within \(String(format: "%.1f", completionSeconds)) s of the start \
            (\(String(format: "%.0f", Double(completed) / completionSeconds)) tasks/s end to end)
            errors \(errors.count)\(errors.first.map { "; first: \($0)" } ?? "")
            """
        }
    }

    final class Shared: Sendable {
        let next = Atomic<Int>(0)
        let figures = Mutex(Figures())
    }

    public func run(log: @Sendable (String) -> Void = { print($0) }) async throws -> Figures {
        let admin = APIClient(base: fleet.controlPlane, token: fleet.adminToken)
        // A fresh agent signed by a fresh key.
        let publisher = try Ed25519PrivateKey()
        let agent = "bench-\(UInt32.random(in: 0...UInt32.max))"
        let bundle: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
        let publish = PublishRequest(version: "1", description: "live benchmark", cpuMillis: 1, memoryBytes: 1, labels: nil,
                                     maxAttempts: 3, profile: .object(["runtimeMs": .number(runtimeMs), "distribution": .string("fixed")]),
                                     bundle: Data(bundle).base64EncodedString(), signature: Encoding.hex(try publisher.sign(bundle)),
                                     publisherKey: Encoding.hex(publisher.publicKey.raw))
        let _: [String: String] = try await admin.call("POST", "/v1/agents/\(agent)/versions", json: publish)
        let executors = try await ExecutorFleet(config: fleet)
        try await executors.start()
        log("\(fleet.count) executors with \(fleet.slots) slots each; offering \(Int(rate)) tasks/s for \(Int(duration)) s "
            + "over \(connections) connections")

        let shared = Shared()
        let one = TaskRequest(agent: agent, input: .object(["n": .number(1)]))
        let body = batch == 1 ? try JSONEncoder().encode(one)
                              : try JSONEncoder().encode(TaskBatchRequest(tasks: Array(repeating: one, count: batch)))
        let path = batch == 1 ? "/v1/tasks" : "/v1/task-batches"
        let start = WallClock.nanoseconds()
        let total = Int(rate * duration) / batch
        let perRequest = batch
        guard let host = fleet.controlPlane.host, let port = fleet.controlPlane.port.map(UInt16.init) else {
            throw APIError(status: 0, detail: "the control plane URL needs a host and a port")
        }
        let headers = ["Content-Type": "application/json", "Authorization": "Bearer \(fleet.adminToken)"]
        let bytes = Array(body)
        // Submitters on threads of their own with blocking sockets: the load generator shares
        // the machine with the service, and URLSession's overhead would be counted against it.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let remaining = Atomic<Int>(connections)
            for _ in 0..<connections {
                let thread = Thread {
                    let connection = BlockingHTTPConnection(host: host, port: port)
                    var latencies: [Double] = []
                    var accepted = 0, refused = 0
                    var errors: [String] = []
                    while true {
                        let k = shared.next.add(1, ordering: .relaxed).oldValue
                        if k >= total { break }
                        let due = start + Int64(Double(k * perRequest) / rate * 1e9)
                        let wait = due - WallClock.nanoseconds()
                        if wait > 0 {
                            var ts = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
                            nanosleep(&ts, nil)
                        }
                        let t0 = WallClock.nanoseconds()
                        do {
                            let (status, data) = try connection.send(method: "POST", path: path, headers: headers, body: bytes)
                            if status == 201 { accepted += perRequest } else {
                                refused += perRequest
                                if errors.count < 3 { errors.append("HTTP \(status): \(String(decoding: data.prefix(200), as: UTF8.self))") }
                            }
                        } catch {
                            refused += perRequest
                            if errors.count < 3 { errors.append("\(error)") }
                        }
                        latencies.append(Double(WallClock.nanoseconds() - t0) / 1e9)
                    }
                    shared.figures.withLock {
                        $0.submitLatencies += latencies
                        $0.accepted += accepted
                        $0.refused += refused
                        $0.errors += errors
                    }
                    if remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 { done.resume() }
                }
                thread.start()
            }
        }
        var figures = shared.figures.withLock { $0 }
        figures.offered = total * batch
        figures.batch = batch
        figures.seconds = Double(WallClock.nanoseconds() - start) / 1e9
        // Wait (up to a minute) for the accepted tasks to complete.
        let deadline = WallClock.nanoseconds() + 60_000_000_000
        while executors.snapshot.succeeded < figures.accepted && WallClock.nanoseconds() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let s = executors.snapshot
        figures.completed = s.succeeded
        figures.completionSeconds = Double(WallClock.nanoseconds() - start) / 1e9
        figures.dispatchLatencies = s.dispatchLatencies.map { Double($0) / 1e9 }
        figures.errors += s.errors.prefix(3)
        executors.stop()
        return figures
    }
}

/// The executor protocols side by side in one run: for REST and for gRPC in turn (and again,
/// `rounds` times), a heartbeat flood (every executor heartbeating back to back, closed loop)
/// and then the task load test with executors of that protocol. The service's CPU time is
/// read from /proc for its pid, so that heartbeats per CPU-second of the service is a figure
/// that does not depend on how many cores it had (bench-live.sh pins it to one).
public struct ProtocolComparison: Sendable {
    public var test: LoadTest
    public var heartbeatExecutors = 256
    public var heartbeatSeconds = 10.0
    public var grpcPort: Int
    public var servePID: Int32?
    public var rounds = 2

    public init(test: LoadTest, grpcPort: Int) {
        self.test = test
        self.grpcPort = grpcPort
    }

    public struct Row: Sendable {
        var executorProtocol: ExecutorProtocol
        var heartbeats = 0
        var heartbeatErrors = 0
        var seconds = 0.0
        var serveCPU: Double?
        var tasks: LoadTest.Figures?
    }

    /// Seconds of CPU (user and system) the process has used, from /proc/PID/stat.
    static func cpuSeconds(_ pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command's name: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func flood(_ p: ExecutorProtocol, round: Int) async throws -> Row {
        var config = test.fleet
        config.namePrefix += "-beat-\(round)-\(p.rawValue)"  // a name enrolls once
        config.count = heartbeatExecutors
        config.executorProtocol = p
        config.grpcPort = grpcPort
        config.heartbeatInterval = 3600  // the flood's own beats only
        let fleet = try await ExecutorFleet(config: config)
        try await fleet.start()
        // Drained, so that the task load that follows is not placed on them after they stop.
        let admin = APIClient(base: config.controlPlane, token: config.adminToken)
        for id in fleet.ids { let _: [String: JSONValue] = try await admin.call("POST", "/v1/executors/\(id)/drain") }
        defer { fleet.stop() }
        let cpu0 = servePID.flatMap(Self.cpuSeconds)
        let start = ContinuousClock.now
        let end = start + .seconds(heartbeatSeconds)
        let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for e in fleet.executorsNow {
                group.addTask {
                    var ok = 0, failed = 0
                    while ContinuousClock.now < end {
                        do { _ = try await e.link.heartbeat(); ok += 1 } catch { failed += 1 }
                    }
                    return (ok, failed)
                }
            }
            var total = (0, 0)
            for try await c in group { total = (total.0 + c.0, total.1 + c.1) }
            return total
        }
        let elapsed = start.duration(to: .now)
        var row = Row(executorProtocol: p, heartbeats: counts.0, heartbeatErrors: counts.1,
                      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        if let cpu0, let cpu1 = servePID.flatMap(Self.cpuSeconds) { row.serveCPU = cpu1 - cpu0 }
        return row
    }

    public func run(log: @escaping @Sendable (String) -> Void = { print($0) }) async throws -> String {
        var rows: [Row] = []
        for round in 1...rounds {
            for p in ExecutorProtocol.allCases {
                log("round \(round), \(p.rawValue): heartbeat flood of \(heartbeatExecutors) executors for \(Int(heartbeatSeconds)) s")
                var row = try await flood(p, round: round)
                var t = test
                t.fleet.namePrefix += "-load-\(round)-\(p.rawValue)"
                t.fleet.executorProtocol = p
                t.fleet.grpcPort = grpcPort
                log("round \(round), \(p.rawValue): tasks")
                row.tasks = try await t.run(log: log)
                rows.append(row)
            }
        }
        func f(_ x: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", x) }
        var lines = ["| round | protocol | heartbeats/s | serve CPU s | heartbeats per serve CPU-second | tasks accepted/s | completed of accepted | tasks/s end to end | submit→dispatch p50 | errors |",
                     "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (k, r) in rows.enumerated() {
            let t = r.tasks!
            let dispatch = Statistics.quantile(sorted: t.dispatchLatencies.sorted(), 0.5)
            lines.append("| \(k / 2 + 1) | \(r.executorProtocol.rawValue) | \(f(Double(r.heartbeats) / r.seconds)) | "
                         + "\(r.serveCPU.map { f($0, 1) } ?? "?") | \(r.serveCPU.map { f(Double(r.heartbeats) / $0) } ?? "?") | "
                         + "\(f(Double(t.accepted) / t.seconds)) | \(t.completed) of \(t.accepted) | \(f(Double(t.completed) / t.completionSeconds)) | "
                         + "\(f(dispatch * 1000, 1)) ms | \(r.heartbeatErrors + t.errors.count) |")
        }
        return lines.joined(separator: "\n")
    }
}
