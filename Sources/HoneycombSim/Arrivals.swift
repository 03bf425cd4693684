import Foundation
import HoneycombStats

extension Scenario.ArrivalProcess {
    /// Seconds from `now` to the next arrival (a burst's first task, for bursts), with the
    /// rate multiplied by `scale`, drawn from `stream`; nil when a diurnal process has none
    /// before `end`. The simulator and `run-live` both draw their arrivals here.
    public func nextGap(after now: Double, end: Double, scale: Double, stream s: RandomStream) -> Double? {
        switch self {
        case .poisson(let rate): return s.exponential(mean: 1 / (rate * scale))
        case .constant(let rate): return 1 / (rate * scale)
        // A scaled burst process keeps its burst size and comes more or less often.
        case .bursts(let every, _, _): return every.sampleSeconds(s) / scale
        case .diurnal(let mean, let amplitude, let period, let peak):
            // Lewis–Shedler thinning: candidates at the peak rate, kept with probability λ(t)/λmax.
            let top = mean * scale * (1 + amplitude)
            var t = now
            while true {
                t += s.exponential(mean: 1 / top)
                if t > end { return nil }
                let rate = mean * scale * (1 + amplitude * cos(2 * Double.pi * (t - peak) / period))
                if s.uniform() * top <= rate { return t - now }
            }
        }
    }

    /// Offsets of the tasks of one arrival from its time: `[0]`, or a burst's `size` tasks
    /// spread evenly over its `over` seconds.
    public var spread: [Double] {
        guard case .bursts(_, let n, let over) = self else { return [0] }
        return (0..<n).map { over > 0 ? over * Double($0) / Double(n) : 0 }
    }

    /// Every task's arrival time in `[0, end)`, in order: the simulator's draws, for a driver
    /// that submits them in real time.
    public func arrivalTimes(until end: Double, scale: Double = 1, stream: RandomStream) -> [Double] {
        guard scale > 0 else { return [] }
        var times: [Double] = []
        var t = 0.0
        while let gap = nextGap(after: t, end: end, scale: scale, stream: stream) {
            t += gap
            if t >= end { break }
            times += spread.map { t + $0 }.filter { $0 < end }
        }
        return times.sorted()
    }
}

extension Scenario {
    /// The random stream of workload `w`'s arrivals in replication `replication`: the one the
    /// simulator draws from, so a live run of the scenario submits the simulated arrivals.
    public func arrivalStream(workload w: Int, seed: UInt64, replication: Int = 0) -> RandomStream {
        RandomStream(runSeed: SeedDerivation.replicationSeed(seed, replication: replication),
                     purpose: "arrivals/\(w)/\(agents[workloads[w].agent].definition.name)")
    }
}
