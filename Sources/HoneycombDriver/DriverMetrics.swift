import CoreMetrics
import HoneycombCore

/// A metrics backend that shows what a metric means (Prometheus's `# HELP`): it hears the
/// text before the metric is made. swift-metrics' own API carries no help.
package protocol DescribingMetricsFactory: MetricsFactory {
    func describe(_ label: String, help: String)
}

extension MetricsFactory {
    package func counter(_ label: String, _ help: String, _ dimensions: [(String, String)] = []) -> Counter {
        (self as? any DescribingMetricsFactory)?.describe(label, help: help)
        return Counter(label: label, dimensions: dimensions, factory: self)
    }

    package func gauge(_ label: String, _ help: String, _ dimensions: [(String, String)] = []) -> Gauge {
        (self as? any DescribingMetricsFactory)?.describe(label, help: help)
        return Gauge(label: label, dimensions: dimensions, factory: self)
    }

    /// A latency histogram, in seconds.
    package func timer(_ label: String, _ help: String, _ dimensions: [(String, String)] = []) -> Timer {
        (self as? any DescribingMetricsFactory)?.describe(label, help: help)
        return Timer(label: label, dimensions: dimensions, factory: self)
    }
}

/// What the live driver counts of its own work, through swift-metrics: the service gives it
/// its backend (Prometheus in `serve`); tests and the simulator's runs of the driver none.
package final class DriverMetrics: Sendable {
    package static let dependencyErrors = "honeycomb_dependency_errors_total"
    package static let dependencyErrorsHelp = "Calls to a dependency that failed (it was away or refused), by dependency."

    package let batches: Counter
    package let batchCommands: Counter
    package let dispatched: Counter
    /// Batches the state store did not confirm.
    package let storeErrors: Counter
    /// Publishes JetStream refused (the messages stay in the outbox).
    package let publishErrors: Counter
    /// Presence writes and reads Redis refused.
    package let presenceErrors: Counter
    package let llmAbandoned: Counter
    /// One batch: apply, commit, answer.
    package let batchSeconds: Timer
    /// The store's commit of one batch alone.
    package let commitSeconds: Timer
    let leader: Gauge
    let outboxMessages: Gauge
    let executorsPresent: Gauge
    let tasksQueued: Gauge
    // The plane's own counts (`PlaneCounters`), carried over by their growth after each batch.
    let attemptsDispatched: Counter
    let attemptsRetried: Counter
    let attemptsRescheduled: Counter
    let executorsLost: Counter

    package init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        let f = factory
        batches = f.counter("honeycomb_batches_total", "Batches of plane commands written.")
        batchCommands = f.counter("honeycomb_batch_commands_total", "Plane commands in those batches.")
        dispatched = f.counter("honeycomb_dispatch_messages_total", "Messages published to executors.")
        storeErrors = f.counter(Self.dependencyErrors, Self.dependencyErrorsHelp, [("dependency", "postgres")])
        publishErrors = f.counter(Self.dependencyErrors, Self.dependencyErrorsHelp, [("dependency", "nats")])
        presenceErrors = f.counter(Self.dependencyErrors, Self.dependencyErrorsHelp, [("dependency", "redis")])
        llmAbandoned = f.counter("honeycomb_llm_calls_abandoned_total",
                                 "LLM calls given up unreported (their executor gone or past the call timeout).")
        batchSeconds = f.timer("honeycomb_batch_seconds", "Time to apply, write and answer one batch.")
        commitSeconds = f.timer("honeycomb_commit_seconds", "Time for the state store to commit one batch.")
        leader = f.gauge("honeycomb_leader", "1 on the active scheduler, 0 on a standby.")
        leader.record(0)
        outboxMessages = f.gauge("honeycomb_outbox_messages",
                                 "Dispatch messages committed and not yet taken by NATS JetStream (new tasks are refused past the limit).")
        executorsPresent = f.gauge("honeycomb_executors_online", "Executors online or draining, as the active scheduler holds them.")
        tasksQueued = f.gauge("honeycomb_tasks_queued", "Tasks waiting for an executor.")
        attemptsDispatched = f.counter("honeycomb_attempts_dispatched_total", "Task attempts placed on an executor.")
        attemptsRetried = f.counter("honeycomb_attempts_retried_total", "Task attempts retried after their agent failed.")
        attemptsRescheduled = f.counter("honeycomb_attempts_rescheduled_total",
                                        "Task attempts lost with their executor and placed again.")
        executorsLost = f.counter("honeycomb_executors_lost_total", "Executors declared lost (silent past the heartbeat timeout).")
    }

    /// Carries the plane's counts over by what they grew since `last` (a fresh plane, after a
    /// rebuild, counts from zero again: so does `last`), and sets the gauges.
    func noteBatch(_ plane: ControlPlane, outbox: Int, last: inout PlaneCounters) {
        let c = plane.counters
        func grow(_ counter: Counter, _ now: Int, _ before: Int) { if now > before { counter.increment(by: now - before) } }
        grow(attemptsDispatched, c.dispatched, last.dispatched)
        grow(attemptsRetried, c.retried, last.retried)
        grow(attemptsRescheduled, c.rescheduled, last.rescheduled)
        grow(executorsLost, c.executorsLost, last.executorsLost)
        last = c
        outboxMessages.record(outbox)
        executorsPresent.record(plane.executors.presentCount)
        tasksQueued.record(plane.queuedCount)
    }

    func noteLeading() { leader.record(1) }

    /// A replica that stops leading holds no queue, outbox or fleet.
    func noteStandby() {
        leader.record(0)
        outboxMessages.record(0)
        executorsPresent.record(0)
        tasksQueued.record(0)
    }
}
