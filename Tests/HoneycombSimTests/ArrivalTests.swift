import HoneycombSim
import HoneycombStats
import Foundation
import Testing

/// The arrival draws the simulator and `run-live` share.
struct ArrivalTests {
    @Test func burstsComeWholeAndSpreadOverTheirSpan() {
        let bursts = Scenario.ArrivalProcess.bursts(every: .constant(10), size: 4, over: 2)
        #expect(bursts.arrivalTimes(until: 25, stream: RandomStream(seed: 1)) == [10, 10.5, 11, 11.5, 20, 20.5, 21, 21.5])
        // A span cut by the end keeps only what comes before it.
        #expect(bursts.arrivalTimes(until: 11, stream: RandomStream(seed: 1)) == [10, 10.5])
    }

    @Test func constantAndPoissonArrivalsKeepTheirRate() {
        #expect(Scenario.ArrivalProcess.constant(rate: 2).arrivalTimes(until: 3, stream: RandomStream(seed: 1))
            == [0.5, 1, 1.5, 2, 2.5])
        let poisson = Scenario.ArrivalProcess.poisson(rate: 50).arrivalTimes(until: 100, stream: RandomStream(seed: 7))
        // 5,000 expected; the standard deviation is about 71.
        #expect(abs(poisson.count - 5000) < 300)
        #expect(poisson == poisson.sorted() && poisson.allSatisfy { $0 >= 0 && $0 < 100 })
        // Scaled: half the rate.
        let half = Scenario.ArrivalProcess.poisson(rate: 50).arrivalTimes(until: 100, scale: 0.5, stream: RandomStream(seed: 7))
        #expect(abs(half.count - 2500) < 220)
    }

    @Test func aDiurnalDayPeaksWhereItSays() {
        let day = Scenario.ArrivalProcess.diurnal(mean: 10, amplitude: 0.8, period: 1000, peak: 250)
        let times = day.arrivalTimes(until: 1000, stream: RandomStream(seed: 3))
        let nearPeak = times.filter { (150..<350).contains($0) }.count
        let nearTrough = times.filter { (650..<850).contains($0) }.count
        #expect(nearPeak > 3 * nearTrough)
    }

    @Test func aLiveRunDrawsTheSimulatorsStream() throws {
        let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))
        let scenario = try Scenario.load(path: root + "/Scenarios/office-fleet.yaml")
        let a = scenario.workloads[0].arrivals.arrivalTimes(until: 60, stream: scenario.arrivalStream(workload: 0, seed: 11))
        let b = scenario.workloads[0].arrivals.arrivalTimes(until: 60, stream: scenario.arrivalStream(workload: 0, seed: 11))
        #expect(a == b && !a.isEmpty)
        #expect(a != scenario.workloads[0].arrivals.arrivalTimes(until: 60, stream: scenario.arrivalStream(workload: 0, seed: 12)))
    }
}
