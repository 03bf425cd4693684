import CoreMetrics
import HoneycombDriver
import Prometheus
import Synchronization

/// swift-metrics' backend in `serve`: swift-prometheus' registry, one per service rather than
/// the process's global `MetricsSystem` (so replicas in one process keep their own), with
/// each metric's help text.
final class PrometheusBackend: DescribingMetricsFactory {
    let registry = PrometheusCollectorRegistry()
    private let help = Mutex<[String: String]>([:])
    /// Latency buckets: 0.5 ms to 10 s.
    static let buckets: [Duration] = [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                                      .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                      .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)]

    func describe(_ label: String, help text: String) { help.withLock { $0[label] = text } }

    private func name(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help.withLock { $0[label] } ?? "")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: name(label), labels: dimensions)
    }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: name(label), labels: dimensions)
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        aggregate ? registry.makeValueHistogram(descriptor: name(label), labels: dimensions, buckets: Self.buckets.map(\.seconds))
                  : registry.makeGauge(descriptor: name(label), labels: dimensions)
    }
    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: name(label), labels: dimensions)
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: name(label), labels: dimensions, buckets: Self.buckets)
    }
    func destroyCounter(_ handler: any CounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let c = handler as? Prometheus.Counter { registry.unregisterCounter(c) }
    }
    func destroyRecorder(_ handler: any RecorderHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
        if let h = handler as? Histogram<Double> { registry.unregisterValueHistogram(h) }
    }
    func destroyMeter(_ handler: any MeterHandler) {
        if let g = handler as? Prometheus.Gauge { registry.unregisterGauge(g) }
    }
    func destroyTimer(_ handler: any TimerHandler) {
        if let h = handler as? Histogram<Duration> { registry.unregisterDurationHistogram(h) }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The service's metrics, served at `/metrics` in Prometheus's text format: its own (requests,
/// refusals, its dependencies) and the live driver's (batches, commits, outbox, executors).
final class ServiceMetrics: Sendable {
    let backend = PrometheusBackend()
    let requests: CoreMetrics.Counter
    let requestErrors: CoreMetrics.Counter
    let bundlesRefused: CoreMetrics.Counter
    let tokensRefused: CoreMetrics.Counter
    let requestSeconds: CoreMetrics.Timer
    /// 1 while the dependency answers, 0 while it is away, as the last check found it.
    private let up: [Dependency: CoreMetrics.Gauge]
    /// Requests that failed on the dependency itself (the driver counts its own calls).
    private let errors: [Dependency: CoreMetrics.Counter]
    /// The live driver's own.
    let plane: DriverMetrics

    init() {
        let f = backend
        requests = f.counter("honeycomb_http_requests_total", "HTTP requests answered.")
        requestErrors = f.counter("honeycomb_http_errors_total", "HTTP requests answered with a problem.")
        bundlesRefused = f.counter("honeycomb_bundles_refused_total", "Bundles refused for a bad signature or digest.")
        tokensRefused = f.counter("honeycomb_tokens_refused_total", "Requests refused for their token.")
        requestSeconds = f.timer("honeycomb_http_request_seconds", "Time to answer one request.")
        var up: [Dependency: CoreMetrics.Gauge] = [:]
        var errors: [Dependency: CoreMetrics.Counter] = [:]
        for d in Dependency.allCases {
            up[d] = f.gauge("honeycomb_dependency_up", "1 while the dependency answers, 0 while it is away (checked at each scrape and readiness probe).",
                            [("dependency", d.label)])
            errors[d] = f.counter(DriverMetrics.dependencyErrors, DriverMetrics.dependencyErrorsHelp, [("dependency", d.label)])
        }
        self.up = up
        self.errors = errors
        plane = DriverMetrics(factory: f)
    }

    func noteChecked(_ d: Dependency, up answered: Bool) { up[d]!.record(answered ? 1 : 0) }

    func noteFailed(_ d: Dependency) { errors[d]!.increment() }

    /// The exposition text.
    func render() -> [UInt8] { backend.registry.emitToBuffer() }
}
