import Foundation
@testable import HoneycombServer
@testable import HoneycombFleet
import HoneycombAPI
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
