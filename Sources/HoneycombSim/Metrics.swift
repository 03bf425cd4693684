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
    public static let rescheduled = MetricDefinition("task.rescheduled", unit: "count", .lowerIsBetter)
    public static let preempted = MetricDefinition("task.preempted", unit: "count", .lowerIsBetter)
    public static let moved = MetricDefinition("task.moved", unit: "count", .neutral)
    public static let workLost = MetricDefinition("work.lost_seconds", unit: "s", .lowerIsBetter)
    public static let workPreempted = MetricDefinition("work.preempted_seconds", unit: "s", .lowerIsBetter)
    public static let lossDetection = MetricDefinition("executor.loss_detection.mean", unit: "s", .lowerIsBetter)
    // Descriptive: bin-packing unbalances executors on purpose, so neither way is a regression.
    public static let utilizationCV = MetricDefinition("executor.utilization.cv", unit: "ratio", .neutral)
    public static let utilizationJain = MetricDefinition("executor.utilization.jain", unit: "ratio", .neutral)
    public static let fragmentation = MetricDefinition("placement.fragmentation.mean", unit: "ratio", .lowerIsBetter)
    public static func pending(_ reason: PlacementFilter) -> MetricDefinition {
        MetricDefinition("placement.pending_reasons.\(reason.rawValue)", unit: "ratio", .neutral)
    }
    public static func tenantWait(_ tenant: String) -> MetricDefinition {
        MetricDefinition("tenant.\(tenant).wait.mean", unit: "s", .lowerIsBetter)
    }
    public static func tenantShare(_ tenant: String) -> MetricDefinition {
        MetricDefinition("tenant.\(tenant).share", unit: "ratio", .neutral)
    }
    public static let tenantFairness = MetricDefinition("tenant.fairness.jain", unit: "ratio", .higherIsBetter)
    public static let audit = MetricDefinition("audit.events", unit: "count", .neutral)

    /// Every metric a report of `scenario` has, sorted by name (to check names before a run).
    public static func definitions(for scenario: Scenario) -> [MetricDefinition] {
        var out = [waitMean, waitP50, waitP95, waitP99, turnaroundMean, turnaroundP50, turnaroundP95, turnaroundP99,
                   submitted, completed, failed, lost, retried, rescheduled, preempted, moved, unscheduled, runningAtEnd,
                   workLost, workPreempted, utilization, utilizationCV, utilizationJain, online, churn, declaredLost,
                   lossDetection, fragmentation, audit, events]
        out += PlacementFilter.allCases.map(pending)
        if scenario.tenants.count > 1 {
            for (t, tenant) in scenario.tenants.enumerated() where scenario.workloads.contains(where: { $0.tenant.index == t }) {
                out += [tenantWait(tenant.name), tenantShare(tenant.name)]
            }
            out.append(tenantFairness)
        }
        if scenario.llm != nil { out += llmDefinitions }
        return out.sorted { $0.name < $1.name }
    }
    public static let events = MetricDefinition("sim.events", unit: "count", .neutral)
}

/// What one replication measured: one value per metric, in a fixed order.
/// What a replication looked like over time, sampled every `sampleEvery`, for the plots.
public struct RunSeries: Sendable {
    /// Sample times, in seconds.
    public var times: [Double] = []
    public var online: [Double] = []
    /// Busy slots over slots of executors that are up.
    public var utilization: [Double] = []
    public var queued: [Double] = []
    /// Shares of the LLM calls routed since the previous sample (NaN when there were none).
    public var llmLocal: [Double] = []
    public var llmPeer: [Double] = []
    public var llmCloud: [Double] = []
    /// The quantile function of task waits at `RunSeries.levels`.
    public var waitQuantiles: [Double] = []

    /// Levels at which wait quantiles are kept: 0, 1/200, …, 1.
    public static let levels = (0...200).map { Double($0) / 200 }

    public init() {}
}

public struct ReplicationResult: Sendable {
    public var seed: UInt64
    public var values: [(MetricDefinition, Double)]
    public var events: Int
    /// Placement decisions the plane made (for the runtime figures).
    public var decisions: Int
    public var series = RunSeries()

    /// The value of the metric named `name`.
    public subscript(name: String) -> Double? { values.first { $0.0.name == name }?.1 }
}

/// Gathers observations during a replication. Task metrics count the cohort of tasks
/// submitted at or after the warm-up; time-weighted and time-stamped metrics cover
/// [warm-up, end].
struct MetricsCollector {
    let warmup: Instant
    let end: Instant
    let tenants: [TenantPolicy]
    let tenantHasWork: [Bool]
    private var waits: [Double] = []
    private var turnarounds: [Double] = []
    private var submitted = 0, completed = 0, failed = 0, lost = 0, retried = 0
    private var attemptsLost = 0, preempted = 0, moved = 0
    private var audits = 0, churnEvents = 0
    private var workLostSeconds = 0.0, workPreemptedSeconds = 0.0
    private var detections: [Double] = []

    // Fleet-wide time-weighted quantities.
    private var last = Instant.zero
    private var busySlots = 0, onlineSlots = 0, onlineExecutors = 0
    private var busyArea = 0.0, slotArea = 0.0, onlineArea = 0.0

    // Per executor: busy and offered slot-seconds.
    private struct ExecutorTally {
        var last: Instant
        var busy = 0, slots = 0
        var busyArea = 0.0, slotArea = 0.0
    }
    /// (One array of records, not five arrays: a change touches one.)
    private var perExecutor: [ExecutorTally] = []

    // Per tenant: busy slot-seconds and waits.
    private var tenantLast = Instant.zero
    private var tenantBusy: [Int], tenantArea: [Double], tenantWaitSum: [Double], tenantWaitCount: [Int]

    // Sampled: waiting tasks by reason, fragmentation.
    private var pendingByReason = [Int](repeating: 0, count: PlacementFilter.allCases.count)
    private var pendingTotal = 0
    private var fragmentationSamples: [Double] = []
    /// LLM calls, when the scenario has them.
    var llm: LLMCollector?

    init(warmup: Instant, end: Instant, tenants: [TenantPolicy], llm: Bool, tenantHasWork: [Bool]) {
        self.llm = llm ? LLMCollector() : nil
        self.warmup = warmup
        self.end = end
        self.tenants = tenants
        self.tenantHasWork = tenantHasWork
        tenantBusy = Array(repeating: 0, count: tenants.count)
        tenantArea = Array(repeating: 0, count: tenants.count)
        tenantWaitSum = Array(repeating: 0, count: tenants.count)
        tenantWaitCount = Array(repeating: 0, count: tenants.count)
    }

    /// Makes room for the observations of `count` tasks.
    mutating func reserveCapacity(tasks count: Int) {
        waits.reserveCapacity(count)
        turnarounds.reserveCapacity(count)
    }

    private func inCohort(_ submittedAt: Instant) -> Bool { submittedAt >= warmup }

    /// The part of [from, to] after the warm-up, in seconds.
    private func span(_ from: Instant, _ to: Instant) -> Double {
        let start = max(from, warmup)
        return to > start ? (to - start).seconds : 0
    }

    mutating func taskSubmitted(at t: Instant) { if inCohort(t) { submitted += 1 } }

    mutating func taskStarted(_ task: SimTask, at t: Instant) {
        guard inCohort(task.submitted) else { return }
        let wait = (t - task.submitted).seconds
        waits.append(wait)
        tenantWaitSum[Int(task.tenant)] += wait
        tenantWaitCount[Int(task.tenant)] += 1
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
        guard event.task >= 0, inCohort(submittedAt) else { return }
        switch event.kind {
        case .taskRetryScheduled: retried += 1
        case .taskAttemptLost: attemptsLost += 1
        case .taskPreempted: preempted += 1
        case .taskMoved: moved += 1
        default: break
        }
    }

    mutating func workLost(_ span: TimeSpan, at t: Instant) { if t >= warmup { workLostSeconds += span.seconds } }
    mutating func workPreempted(_ span: TimeSpan, at t: Instant) { if t >= warmup { workPreemptedSeconds += span.seconds } }
    mutating func lossDetected(after span: TimeSpan, at t: Instant) { if t >= warmup { detections.append(span.seconds) } }

    /// Over time, for the plots (the warm-up included).
    private(set) var series = RunSeries()
    var windowRouted = (local: 0, peer: 0, cloud: 0)

    mutating func sampled(pending: [(reason: PlacementFilter, tasks: Int)], fragmentation: Double?, queued: Int,
                          at t: Instant) {
        series.times.append(t.seconds)
        series.online.append(Double(onlineExecutors))
        series.utilization.append(onlineSlots > 0 ? Double(busySlots) / Double(onlineSlots) : .nan)
        series.queued.append(Double(queued))
        let routed = Double(windowRouted.local + windowRouted.peer + windowRouted.cloud)
        series.llmLocal.append(routed > 0 ? Double(windowRouted.local) / routed : .nan)
        series.llmPeer.append(routed > 0 ? Double(windowRouted.peer) / routed : .nan)
        series.llmCloud.append(routed > 0 ? Double(windowRouted.cloud) / routed : .nan)
        windowRouted = (0, 0, 0)
        guard t >= warmup else { return }
        for p in pending {
            pendingByReason[PlacementFilter.allCases.firstIndex(of: p.reason)!] += p.tasks
            pendingTotal += p.tasks
        }
        if let fragmentation { fragmentationSamples.append(fragmentation) }
    }

    /// Integrates the fleet-wide quantities up to `t`.
    private mutating func advance(to t: Instant) {
        let dt = span(last, t)
        if dt > 0 {
            busyArea += Double(busySlots) * dt
            slotArea += Double(onlineSlots) * dt
            onlineArea += Double(onlineExecutors) * dt
        }
        last = t
    }

    /// A word of no meaning read from executor `e`'s tally (see `ControlPlane.readAhead`).
    func readAhead(executor e: Int) -> UInt32 {
        e >= 0 && e < perExecutor.count ? UInt32(truncatingIfNeeded: perExecutor[e].busy) : 0
    }

    private mutating func advanceExecutor(_ e: Int, to t: Instant) {
        while perExecutor.count <= e { perExecutor.append(ExecutorTally(last: t)) }
        let dt = span(perExecutor[e].last, t)
        if dt > 0 {
            perExecutor[e].busyArea += Double(perExecutor[e].busy) * dt
            perExecutor[e].slotArea += Double(perExecutor[e].slots) * dt
        }
        perExecutor[e].last = t
    }

    mutating func busyChanged(executor e: Int, by delta: Int, at t: Instant) {
        advance(to: t)
        busySlots += delta
        advanceExecutor(e, to: t)
        perExecutor[e].busy += delta
    }

    mutating func executorChanged(_ e: Int, up delta: Int, slots: Int, at t: Instant, churn: Bool) {
        advance(to: t)
        onlineExecutors += delta
        onlineSlots += slots
        advanceExecutor(e, to: t)
        perExecutor[e].slots += slots
        if churn && t >= warmup { churnEvents += 1 }
    }

    mutating func tenantBusyChanged(_ tenant: Int, by delta: Int, at t: Instant) {
        let dt = span(tenantLast, t)
        if dt > 0 { for k in tenantBusy.indices { tenantArea[k] += Double(tenantBusy[k]) * dt } }
        tenantLast = t
        tenantBusy[tenant] += delta
    }

    mutating func close(at t: Instant, executors: Int) {
        advance(to: t)
        for e in 0..<executors { advanceExecutor(e, to: t) }
        tenantBusyChanged(0, by: 0, at: t)
    }

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
        let length = span(.zero, end)
        let utilizations = perExecutor.compactMap { $0.slotArea > 0 ? $0.busyArea / $0.slotArea : nil }
        let utilizationMean = Statistics.mean(utilizations)
        // Population spread, so that Jain = 1 / (1 + CV²) holds exactly.
        let utilizationSD = (utilizations.reduce(0) { $0 + ($1 - utilizationMean) * ($1 - utilizationMean) }
                             / Double(max(1, utilizations.count))).squareRoot()
        var values: [(MetricDefinition, Double)] = [
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
            (SimMetrics.rescheduled, Double(attemptsLost - lost)),
            (SimMetrics.preempted, Double(preempted)),
            (SimMetrics.moved, Double(moved)),
            (SimMetrics.unscheduled, Double(unscheduled)),
            (SimMetrics.runningAtEnd, Double(running)),
            (SimMetrics.workLost, workLostSeconds),
            (SimMetrics.workPreempted, workPreemptedSeconds),
            (SimMetrics.utilization, slotArea > 0 ? busyArea / slotArea : .nan),
            (SimMetrics.utilizationCV, utilizationMean > 0 ? utilizationSD / utilizationMean : .nan),
            (SimMetrics.utilizationJain, jain(utilizations)),
            (SimMetrics.online, length > 0 ? onlineArea / length : .nan),
            (SimMetrics.churn, Double(churnEvents)),
            (SimMetrics.declaredLost, Double(plane.counters.executorsLost)),
            (SimMetrics.lossDetection, Statistics.mean(detections)),
            (SimMetrics.fragmentation, Statistics.mean(fragmentationSamples)),
        ]
        for (k, reason) in PlacementFilter.allCases.enumerated() {
            values.append((SimMetrics.pending(reason), pendingTotal > 0 ? Double(pendingByReason[k]) / Double(pendingTotal) : 0))
        }
        // Per-tenant figures, when the scenario names tenants.
        let working = tenants.indices.filter { tenantHasWork[$0] }
        if tenants.count > 1 {
            let totalArea = tenantArea.reduce(0, +)
            for t in working {
                values.append((SimMetrics.tenantWait(tenants[t].name),
                               tenantWaitCount[t] > 0 ? tenantWaitSum[t] / Double(tenantWaitCount[t]) : .nan))
                values.append((SimMetrics.tenantShare(tenants[t].name), totalArea > 0 ? tenantArea[t] / totalArea : .nan))
            }
            values.append((SimMetrics.tenantFairness, jain(working.map { tenantArea[$0] / tenants[$0].weight })))
        }
        if let llm { values += llm.values() }
        values.append((SimMetrics.audit, Double(audits)))
        values.append((SimMetrics.events, Double(events)))
        series.waitQuantiles = waits.isEmpty ? [] : RunSeries.levels.map { Statistics.quantile(sorted: waits, $0) }
        var result = ReplicationResult(seed: seed, values: values, events: events, decisions: plane.placementDecisions)
        result.series = series
        return result
    }

    /// Jain's fairness index: 1 when all values are equal, 1/n when one takes everything.
    private func jain(_ xs: [Double]) -> Double {
        let sum = xs.reduce(0, +), squares = xs.reduce(0) { $0 + $1 * $1 }
        return squares > 0 ? sum * sum / (Double(xs.count) * squares) : .nan
    }
}
