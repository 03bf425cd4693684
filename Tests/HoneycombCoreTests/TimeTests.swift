import HoneycombCore
import Testing

@Suite struct TimeTests {
    @Test func spansPrintInTheUnitsAScenarioUses() {
        #expect(TimeSpan.seconds(5400.0).description == "1h30m")
        #expect(TimeSpan.seconds(0.25).description == "250ms")
        #expect(TimeSpan.seconds(30.0).description == "30s")
    }

    @Test func instantArithmeticIsExactAndSaturates() {
        let t = Instant.zero + .seconds(0.1) + .seconds(0.2)
        #expect(t.nanoseconds == 300_000_000)
        #expect(Instant.distantFuture + .seconds(1.0) == .distantFuture)
    }
}
