import HoneycombDriver
import Synchronization

/// The service's own counters and latency histograms, served at `/metrics` in Prometheus's
/// text format.
final class ServiceMetrics: Sendable {
    let requests = MetricCounter()
    let requestErrors = MetricCounter()
    let bundlesRefused = MetricCounter()
    let tokensRefused = MetricCounter()
    let requestSeconds = MetricHistogram(bounds: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1])
    /// The live driver's own.
    let plane = DriverMetrics()

    /// The exposition text, with the plane's own gauges.
    func render(leader: Bool, queued: Int, counters: (dispatched: Int, retried: Int, rescheduled: Int, lost: Int)?) -> String {
        var out = ""
        func counter(_ name: String, _ help: String, _ v: Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n\(name) \(v)\n"
        }
        func gauge(_ name: String, _ help: String, _ v: Int) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name) \(v)\n"
        }
        counter("honeycomb_http_requests_total", "HTTP requests answered.", requests.current)
        counter("honeycomb_http_errors_total", "HTTP requests answered with a problem.", requestErrors.current)
        counter("honeycomb_batches_total", "Batches of plane commands written.", plane.batches.current)
        counter("honeycomb_batch_commands_total", "Plane commands in those batches.", plane.batchCommands.current)
        counter("honeycomb_dispatch_messages_total", "Messages published to executors.", plane.dispatched.current)
        counter("honeycomb_store_failures_total", "Batches the store refused.", plane.storeFailures.current)
        counter("honeycomb_publish_failures_total", "Batches JetStream refused at first.", plane.publishFailures.current)
        counter("honeycomb_llm_calls_abandoned_total", "LLM calls given up unreported (their executor gone or past the call timeout).",
                plane.llmAbandoned.current)
        counter("honeycomb_bundles_refused_total", "Bundles refused for a bad signature or digest.", bundlesRefused.current)
        counter("honeycomb_tokens_refused_total", "Requests refused for their token.", tokensRefused.current)
        gauge("honeycomb_leader", "1 on the active scheduler.", leader ? 1 : 0)
        gauge("honeycomb_tasks_queued", "Tasks waiting for an executor.", queued)
        if let c = counters {
            counter("honeycomb_plane_dispatched_total", "Attempts dispatched by the plane.", c.dispatched)
            counter("honeycomb_plane_retried_total", "Attempts retried.", c.retried)
            counter("honeycomb_plane_rescheduled_total", "Attempts rescheduled after executor loss.", c.rescheduled)
            counter("honeycomb_plane_executors_lost_total", "Executors declared lost.", c.lost)
        }
        out += plane.batchSeconds.render("honeycomb_batch_seconds", "Time to apply and write one batch.")
        out += requestSeconds.render("honeycomb_http_request_seconds", "Time to answer one request.")
        return out
    }
}
