import Foundation
import HoneycombLive
import HoneycombReport

/// `bench presence`: what a fleet's heartbeats cost in Redis, one command a heartbeat (as the
/// live driver did before its writes were batched) and batched (pipelined, as it does now),
/// and a refill of the whole fleet (`SET NX`, nothing read) beside the scan it replaced.
enum PresenceBenchmark {
    static func run(url: String, executors: Int, rounds: Int) async throws {
        let redis: RedisConnection
        do { redis = try await RedisConnection.connect(url: url) } catch let e as RedisError {
            throw CLIFailure("bench presence: \(e.description) (deploy/local/services.sh start, then pass --redis or set HONEYCOMB_REDIS_URL)")
        }
        let namespace = "honeycomb-bench-\(ProcessInfo.processInfo.processIdentifier)"
        let presence = ExecutorPresence(redis: redis, namespace: namespace)
        let ids = (0..<Int64(executors)).map { $0 }
        let marks = ids.map { (executor: $0, incarnation: UInt32(1)) }
        let ttl = 600.0
        func seconds(_ work: () async throws -> Void) async rethrows -> Double {
            let start = ContinuousClock.now
            try await work()
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        var one: [Double] = [], batched: [Double] = [], refill: [Double] = [], scan: [Double] = []
        for round in 0..<rounds {
            one.append(try await seconds { for m in marks { try await presence.mark(m.executor, incarnation: m.incarnation, ttl: ttl) } })
            batched.append(try await seconds { try await presence.mark(marks, ttl: ttl) })
            refill.append(try await seconds { try await presence.markIfAbsent(ids, ttl: ttl) })
            var seen = 0
            scan.append(try await seconds { seen = try await presence.present().count })
            guard seen == executors else { throw CLIFailure("bench presence: \(seen) keys present, expected \(executors)") }
            print("presence: round \(round + 1) of \(rounds): \(executors) heartbeats one command each "
                  + "\(Report.figure(one[round])) s, batched \(Report.figure(batched[round])) s; refill (SET NX) "
                  + "\(Report.figure(refill[round])) s, scan \(Report.figure(scan[round])) s")
        }
        for e in stride(from: 0, to: executors, by: ExecutorPresence.pipelineDepth) {
            _ = try await redis.pipeline((e..<min(e + ExecutorPresence.pipelineDepth, executors)).map { ["DEL", "\(namespace):presence:executor:\($0)"] })
        }
        let rate = { (s: [Double]) in Report.figure((Double(executors) / s.min()!).rounded()) }
        print("presence: \(executors) executors, best of \(rounds) rounds: heartbeats one command each \(rate(one))/s, "
              + "batched (\(ExecutorPresence.pipelineDepth) a round trip) \(rate(batched))/s: "
              + "\(Report.figure(one.min()! / batched.min()!))× ; refill \(rate(refill))/s, the scan it replaced "
              + "\(rate(scan))/s: \(Report.figure(scan.min()! / refill.min()!))×")
    }
}
