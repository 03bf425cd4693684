import Foundation
@testable import HoneycombServer
import HoneycombStats
import HoneycombCore
import Testing

/// Agent profiles carry the simulator's distributions to the reference executors.
struct ProfileTests {
    @Test func everyDistributionSurvivesTheProfilesJSON() throws {
        let all: [Distribution] = [.constant(1.5), .exponential(mean: 2), .lognormal(median: 30, sigma: 0.8),
                                   .gamma(shape: 2, scale: 60), .weibull(shape: 1.5, scale: 10), .pareto(shape: 2.5, minimum: 1),
                                   .uniform(low: 1, high: 3), .empirical([1, 2, 4])]
        for d in all {
            let text = try d.json.text(field: "runtime")
            let profile = AgentProfile(json: #"{"runtime": \#(text), "failure": 0.25}"#)
            #expect(profile.runtime == d, "\(text)")
            #expect(profile.failure == 0.25)
            #expect(abs(d.faster(10).mean - d.mean / 10) < 1e-9 * max(1, d.mean))
        }
    }

    @Test func theOlderFormAndNonsenseFallBackToExponentialOrConstant() {
        #expect(AgentProfile(json: #"{"runtimeMs": 20, "distribution": "fixed"}"#).runtime == .constant(0.02))
        #expect(AgentProfile(json: #"{"runtimeMs": 20}"#).runtime == .exponential(mean: 0.02))
        #expect(AgentProfile(json: #"{"runtime": {"lognormal": {"median": 1}}}"#).runtime == .exponential(mean: 0.01))
        #expect(AgentProfile(json: "not json").runtime == .exponential(mean: 0.01))
    }
}

/// The live plane's timers come out earliest first, ties in the order they were set.
struct TimerHeapTests {
    @Test func timersComeOutInOrder() {
        var heap = TimerHeap()
        var expected: [(Int64, Int32)] = []
        var x: UInt64 = 12345
        for k in 0..<2000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let at = Int64(x >> 54)  // few distinct instants: many ties
            heap.push(.retry(TaskID(Int32(k)), attempt: 1), at: Instant(nanoseconds: at))
            expected.append((at, Int32(k)))
        }
        expected.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var got: [(Int64, Int32)] = []
        while heap.count > 0 {
            let (at, timer) = heap.popFirst()
            guard case .retry(let task, _) = timer else { Issue.record("wrong timer"); return }
            got.append((at.nanoseconds, task.rawValue))
        }
        #expect(got.map(\.0) == expected.map(\.0) && got.map(\.1) == expected.map(\.1))
    }
}
