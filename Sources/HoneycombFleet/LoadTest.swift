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
