import HoneycombCore
@testable import HoneycombDriver
import MetricsTestKit
import Testing

/// What an SRE reads of the driver during an outage, through swift-metrics (here its test
/// backend; Prometheus in `serve`): the outbox, the executors, the calls that failed.
struct DriverMetricsTests {
    static let errors = DriverMetrics.dependencyErrors

    @Test func theOutboxTheFleetAndFailedCallsAreCountedAcrossARebuild() async throws {
        let m = TestMetrics()
        let h = await DriverHarness.make()
        let (plane, loop) = try await h.replica(metrics: DriverMetrics(factory: m))
        try await plane.register(executor: 7, DriverHarness.spec)
        #expect(try m.expectGauge("honeycomb_executors_online").lastValue == 1)
        #expect(try m.expectGauge("honeycomb_outbox_messages").lastValue == 0)

        // The bus away: the dispatch waits in the outbox, and the refusal is counted.
        await h.bus.fail()
        _ = try await plane.submit(DriverHarness.submission())
        #expect(try m.expectGauge("honeycomb_outbox_messages").lastValue == 1)
        #expect(await plane.publishOutbox() == false)
        #expect(try m.expectCounter(Self.errors, [("dependency", "nats")]).totalValue == 1)
        #expect(try m.expectGauge("honeycomb_outbox_messages").lastValue == 1)
        #expect(await plane.publishOutbox())
        #expect(try m.expectGauge("honeycomb_outbox_messages").lastValue == 0)
        #expect(try m.expectCounter("honeycomb_dispatch_messages_total").totalValue == 1)
        #expect(try m.expectCounter("honeycomb_attempts_dispatched_total").totalValue == 1)
        let batches = try m.expectCounter("honeycomb_batches_total").totalValue
        let commits = try m.expectTimer("honeycomb_commit_seconds").values.count
        #expect(batches == 2 && commits == 2)

        // The store away: the failed commit is counted; the loop stops.
        await h.store.inject(.fail)
        await #expect(throws: PlaneRefusal.storeUnavailable) { try await plane.submit(DriverHarness.submission(1)) }
        _ = await loop.result
        #expect(try m.expectCounter(Self.errors, [("dependency", "postgres")]).totalValue == 1)

        // Rebuilt, and executor 7, silent all along, is lost past its heartbeat timeout; the
        // rebuilt plane's counts start from zero, and the metrics carry on from theirs.
        _ = try await plane.rebuild()
        let loop2 = Task { try await plane.run() }
        h.clock.advance(.seconds(31))
        await plane.tick()
        await plane.settled()
        #expect(await plane.executorView(7)?.state == "lost")
        #expect(try m.expectCounter("honeycomb_executors_lost_total").totalValue == 1)
        #expect(try m.expectGauge("honeycomb_executors_online").lastValue == 0)
        #expect(try m.expectCounter("honeycomb_attempts_dispatched_total").totalValue == 1)
        await plane.stop()
        _ = await loop2.result
    }
}
