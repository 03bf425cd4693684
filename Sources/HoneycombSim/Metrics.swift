import HoneycombCore
import HoneycombReport
import HoneycombStats

/// The metrics every simulation reports, with their units and directions.
public enum SimMetrics {
    public static let waitMean = MetricDefinition("task.wait.mean", unit: "s", .lowerIsBetter)
    public static let waitP50 = MetricDefinition("task.wait.p50", unit: "s", .lowerIsBetter)
    public static let waitP95 = MetricDefinition("task.wait.p95", unit: "s", .lowerIsBetter)
    public static let waitP99 = MetricDefinition("task.wait.p99", unit: "s", .lowerIsBetter)
    public static let turnaroundMean = MetricDefinition("task.turnaround.mean", unit: "s", .lowerIsBetter)
    public static let turnaroundP50 = MetricDefinition("task.turnaround.p50", unit: "s", .lowerIsBetter)
    public static let turnaroundP95 = MetricDefinition("task.turnaround.p95", unit: "s", .lowerIsBetter)
    public static let turnaroundP99 = MetricDefinition("task.turnaround.p99", unit: "s", .lowerIsBetter)
    public static let submitted = MetricDefinition("task.submitted", unit: "count", .neutral)
    public static let completed = MetricDefinition("task.completed", unit: "count", .higherIsBetter)
    public static let failed = MetricDefinition("task.failed", unit: "count", .lowerIsBetter)
    public static let lost = MetricDefinition("task.lost", unit: "count", .lowerIsBetter)
    public static let retried = MetricDefinition("task.retried", unit: "count", .lowerIsBetter)
    public static let unscheduled = MetricDefinition("task.unscheduled_at_end", unit: "count", .lowerIsBetter)
    public static let runningAtEnd = MetricDefinition("task.running_at_end", unit: "count", .neutral)
    public static let utilization = MetricDefinition("executor.utilization.mean", unit: "ratio", .higherIsBetter)
    public static let online = MetricDefinition("executor.online.mean", unit: "executors", .neutral)
    public static let churn = MetricDefinition("executor.churn_events", unit: "count", .neutral)
    public static let declaredLost = MetricDefinition("executor.declared_lost", unit: "count", .neutral)
    public static let audit = MetricDefinition("audit.events", unit: "count", .neutral)
    public static let events = MetricDefinition("sim.events", unit: "count", .neutral)
}

/// What one replication measured: one value per metric, in a fixed order.
public struct ReplicationResult: Sendable {
    public var seed: UInt64
    public var values: [(MetricDefinition, Double)]
    public var events: Int

    /// The value of the metric named `name`.
    public subscript(name: String) -> Double? { values.first { $0.0.name == name }?.1 }
}

/// Gathers observations during a replication. Task metrics count the cohort of tasks
/// submitted at or after the warm-up; time-weighted metrics integrate over [warm-up, end].
struct MetricsCollector {
    let warmup: Instant
    let end: Instant
    private var waits: [Double] = []
    private var turnarounds: [Double] = []
    private var submitted = 0, completed = 0, failed = 0, lost = 0, retried = 0
    private var audits = 0, churnEvents = 0

    private var last = Instant.zero
    private var busySlots = 0, onlineSlots = 0, onlineExecutors = 0
    private var busyArea = 0.0, slotArea = 0.0, onlineArea = 0.0

    init(warmup: Instant, end: Instant) {
        self.warmup = warmup
        self.end = end
    }

    private func inCohort(_ submittedAt: Instant) -> Bool { submittedAt >= warmup }

    mutating func taskSubmitted(at t: Instant) { if inCohort(t) { submitted += 1 } }

    mutating func taskStarted(_ task: SimTask, at t: Instant) {
        if inCohort(task.submitted) { waits.append((t - task.submitted).seconds) }
    }

    mutating func taskEnded(_ task: SimTask, as state: TaskState, at t: Instant) {
        guard inCohort(task.submitted) else { return }
        turnarounds.append((t - task.submitted).seconds)
        switch state {
        case .succeeded: completed += 1
        case .failed: failed += 1
        case .lost: lost += 1
        default: break
        }
    }

    mutating func audit(_ event: AuditEvent, submittedAt: Instant) {
        if event.at >= warmup { audits += 1 }
        if event.kind == .taskRetryScheduled && inCohort(submittedAt) { retried += 1 }
    }

    /// Integrates the time-weighted quantities up to `t`.
    private mutating func advance(to t: Instant) {
        let from = max(last, warmup)
        if t > from {
            let dt = (t - from).seconds
            busyArea += Double(busySlots) * dt
            slotArea += Double(onlineSlots) * dt
            onlineArea += Double(onlineExecutors) * dt
        }
        last = t
    }

    mutating func busyChanged(by delta: Int, at t: Instant) {
        advance(to: t)
        busySlots += delta
    }

    mutating func executorChanged(up delta: Int, slots: Int, at t: Instant, churn: Bool) {
        advance(to: t)
        onlineExecutors += delta
        onlineSlots += slots
        if churn && t >= warmup { churnEvents += 1 }
    }

    mutating func close(at t: Instant) { advance(to: t) }

    mutating func result(plane: ControlPlane, tasks: [SimTask], events: Int, seed: UInt64) -> ReplicationResult {
        var unscheduled = 0, running = 0
        for (i, t) in tasks.enumerated() where inCohort(t.submitted) {
            switch plane.tasks[TaskID(i)]?.state {
            case .queued?, .backoff?: unscheduled += 1
            case .dispatched?, .running?: running += 1
            default: break
            }
        }
        Statistics.sort(&waits)
        Statistics.sort(&turnarounds)
        let span = (end - max(warmup, .zero)).seconds
        let values: [(MetricDefinition, Double)] = [
            (SimMetrics.waitMean, Statistics.mean(waits)),
            (SimMetrics.waitP50, Statistics.quantile(sorted: waits, 0.50)),
            (SimMetrics.waitP95, Statistics.quantile(sorted: waits, 0.95)),
            (SimMetrics.waitP99, Statistics.quantile(sorted: waits, 0.99)),
            (SimMetrics.turnaroundMean, Statistics.mean(turnarounds)),
            (SimMetrics.turnaroundP50, Statistics.quantile(sorted: turnarounds, 0.50)),
            (SimMetrics.turnaroundP95, Statistics.quantile(sorted: turnarounds, 0.95)),
            (SimMetrics.turnaroundP99, Statistics.quantile(sorted: turnarounds, 0.99)),
            (SimMetrics.submitted, Double(submitted)),
            (SimMetrics.completed, Double(completed)),
            (SimMetrics.failed, Double(failed)),
            (SimMetrics.lost, Double(lost)),
            (SimMetrics.retried, Double(retried)),
            (SimMetrics.unscheduled, Double(unscheduled)),
            (SimMetrics.runningAtEnd, Double(running)),
            (SimMetrics.utilization, slotArea > 0 ? busyArea / slotArea : .nan),
            (SimMetrics.online, span > 0 ? onlineArea / span : .nan),
            (SimMetrics.churn, Double(churnEvents)),
            (SimMetrics.declaredLost, Double(plane.counters.executorsLost)),
            (SimMetrics.audit, Double(audits)),
            (SimMetrics.events, Double(events)),
        ]
        return ReplicationResult(seed: seed, values: values, events: events)
    }
}
