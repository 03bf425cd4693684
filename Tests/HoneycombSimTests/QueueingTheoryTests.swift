import HoneycombReport
import HoneycombSim
import Testing

/// The simulator against queueing theory: if these fail, no report it writes can be trusted.
@Suite struct QueueingTheoryTests {
    /// c identical single-slot executors, Poisson arrivals at `lambda`/s, exponential service
    /// with mean 1/`mu` s, no churn, no network delay.
    static func mmc(c: Int, lambda: Double, mu: Double, duration: String, replications: Int) -> String {
        """
        name: mmc-\(c)
        seed: 2024
        replications: \(replications)
        duration: \(duration)
        warmup: 1h
        executors:
          - pool: servers
            count: \(c)
            resources: {cpu: 1, memory: 1GiB, slots: 1}
        agents:
          - name: job
            requires: {cpu: 1}
            runtime: {exponential: {mean: \(1 / mu)s}}
        workload:
          - agent: job
            arrivals: {poisson: {rate: \(lambda)/s}}
        policy:
          heartbeat: {interval: 1h, timeout: 2h}
        network: {dispatch: 0s, report: 0s}
        """
    }

    static func erlangCWait(c: Int, lambda: Double, mu: Double) -> Double {
        QueueingTheory.erlangCWait(c: c, lambda: lambda, mu: mu)
    }

    static func run(_ text: String) throws -> Report {
        SimulationRunner.run(try Scenario.parse(text), parallelism: 2).0
    }

    @Test func mm1MeanWaitMatchesTheory() throws {
        // ρ = 0.7: Wq = ρ / (μ − λ) = 0.7 / 0.3 s.
        let report = try Self.run(Self.mmc(c: 1, lambda: 0.7, mu: 1, duration: "12h", replications: 10))
        let wait = try #require(report["task.wait.mean"])
        let theory = 0.7 / 0.3
        #expect(wait.interval.contains(theory), "M/M/1 wait \(wait.interval) vs \(theory)")
        #expect(wait.interval.halfWidth < 0.15 * theory, "interval too wide to test anything")
        let utilization = try #require(report["executor.utilization.mean"])
        #expect(utilization.interval.contains(0.7), "utilization \(utilization.interval) vs 0.7")
    }

    @Test func mmcMeanWaitMatchesErlangC() throws {
        let (c, lambda, mu) = (4, 3.0, 1.0)
        let report = try Self.run(Self.mmc(c: c, lambda: lambda, mu: mu, duration: "8h", replications: 10))
        let wait = try #require(report["task.wait.mean"])
        let theory = Self.erlangCWait(c: c, lambda: lambda, mu: mu)
        #expect(abs(theory - 0.5094) < 1e-3)  // the formula itself: C(4, 3) = 0.5094, Wq = C / (cμ − λ)
        #expect(wait.interval.contains(theory), "M/M/\(c) wait \(wait.interval) vs Erlang C \(theory)")
        #expect(wait.interval.halfWidth < 0.15 * theory, "interval too wide to test anything")
    }

    @Test func churningExecutorsAreOnlineTheExpectedFraction() throws {
        // Exponential up (mean 30m) and down (mean 10m): online a fraction 30 / (30 + 10) = 0.75.
        let text = """
        name: churn-only
        seed: 99
        replications: 8
        duration: 24h
        warmup: 1h
        executors:
          - pool: flaky
            count: 200
            resources: {cpu: 1, slots: 1}
            churn: {uptime: {exponential: {mean: 30m}}, downtime: {exponential: {mean: 10m}}, crash: 0.5}
        agents:
          - name: idle
            runtime: 1s
        """
        let report = try Self.run(text)
        let online = try #require(report["executor.online.mean"])
        #expect(online.interval.contains(150), "online \(online.interval) vs 150")
        #expect(online.interval.halfWidth < 3)
        // Each executor goes down and up about 24h / 40m = 36 times a day: ≈ 2 × 36 × 200 transitions in 23 h.
        let churn = try #require(report["executor.churn_events"]).interval.mean
        #expect(abs(churn - 2 * 200 * 23 * 60 / 40) < 0.05 * churn)
    }
}
