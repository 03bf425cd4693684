@testable import HoneycombDriver
import Testing

/// The watchdog `honeycomb fuzz` puts on each seed: a stalled run is reported, not waited for.
@Suite struct WatchdogTests {
    @Test func workWhoseProgressStandsStillIsAnsweredAsStalledAndCancelled() async {
        let answer = await Watchdog.guarded(stallLimit: .milliseconds(100), progress: { 0 }, stalled: { "stalled" }, work: {
            // An answer that is not coming (ended by the watchdog's cancellation, and then dropped).
            try? await Task.sleep(for: .seconds(3600))
            return "answered"
        })
        #expect(answer == "stalled")
    }

    @Test func workThatEndsIsAnsweredWithItsValue() async {
        let answer = await Watchdog.guarded(stallLimit: .seconds(60), progress: { 0 }, stalled: { -1 }, work: { 42 })
        #expect(answer == 42)
    }
}
