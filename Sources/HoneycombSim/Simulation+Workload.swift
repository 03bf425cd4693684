import Foundation
import HoneycombCore
import HoneycombStats

/// A workload's arrival process and the scale events have put on its rate.
struct WorkloadState {
    var arrivals: Scenario.ArrivalProcess
    var scale = 1.0
    /// Bumped when the rate changes, so the arrival already scheduled is dropped.
    var generation: UInt32 = 0
}

extension Simulation {
    /// Schedules the workload's next arrival (or burst) after `now`.
    mutating func scheduleNextArrival(_ w: Int32) {
        // Read in place: a copy of the state would copy (and retain) its arrival process.
        let scale = workloads[Int(w)].scale
        guard scale > 0 else { return }
        guard let gap = workloads[Int(w)].arrivals.nextGap(after: now.seconds, end: end.seconds, scale: scale,
                                                           stream: arrivalStreams[Int(w)]) else { return }
        queue.push(.arrival(workload: w, generation: workloads[Int(w)].generation), at: now + .seconds(gap))
    }

    mutating func arrival(workload w: Int, generation: UInt32) {
        guard workloads[w].generation == generation else { return }
        guard case .bursts = workloads[w].arrivals else {
            submitTask(workload: w)
            return scheduleNextArrival(Int32(w))
        }
        // A burst's tasks after its first come spread over its span.
        for offset in workloads[w].arrivals.spread {
            if offset > 0 {
                queue.push(.spreadArrival(workload: Int32(w)), at: now + .seconds(offset))
            } else {
                submitTask(workload: w)
            }
        }
        scheduleNextArrival(Int32(w))
    }

    /// A new task of the workload's agent. Its run time and first-attempt outcome are drawn
    /// now, in arrival order, so that every policy sees the same tasks.
    mutating func submitTask(workload w: Int) {
        // Fields read in place, not the workload or agent copied: they hold strings and arrays.
        let agent = scenario.workloads[w].agent
        let tenant = scenario.workloads[w].tenant, priority = scenario.workloads[w].priority
        let id = TaskID(tasks.count)
        let draw = failureStreams[agent].next()
        tasks.append(SimTask(submitted: now, firstStart: .distantFuture,
                             runtime: .seconds(scenario.agents[agent].runtime.sampleSeconds(runtimeStreams[agent])),
                             agent: Int32(agent), tenant: tenant.rawValue, failureDraw: draw))
        metrics.taskSubmitted(at: now)
        send(.taskSubmitted(TaskSpec(id: id, agent: AgentID(agent), tenant: tenant, priority: priority)))
    }

    /// Carries out a timed scenario event.
    mutating func apply(_ action: Scenario.Action) {
        switch action {
        case .add(let pool, let count):
            for _ in 0..<count { startExecutor(pool: pool, initial: false) }
        case .remove(let pool, let share):
            // For good: whether up, draining or down now, a removed executor never returns.
            for e in pick(share, from: pool, where: { !$0.retired }) {
                executors[e].retired = true
                drain(e)
            }
        case .crash(let pool, let share):
            for e in pick(share, from: pool, where: { $0.up }) { crash(e) }
        case .partition(let pool, let share, let span):
            for e in pick(share, from: pool, where: { $0.up && !$0.partitioned }) { partition(e, for: span) }
        case .outage(let p, let span, let retryAfter):
            providerDownUntil[p] = max(providerDownUntil[p], now + span)
            providerRetryAfter[p] = retryAfter
        case .price(let p, let input, let output):
            providerPrices[p] = (input, output)
            send(.llmPriceChanged(ProviderID(p), input: input, output: output))
        case .scaleRate(let w, let scale):
            workloads[w].scale = scale
            workloads[w].generation &+= 1
            scheduleNextArrival(Int32(w))
        }
    }

    /// A uniformly random subset of the pool's executors that pass `filter`, chosen with a
    /// partial Fisher–Yates shuffle on the fault stream, returned in id order.
    private func pick(_ share: Scenario.Share, from pool: Int,
                      where filter: (ExecutorModel) -> Bool) -> [Int] {
        var ids = executors.indices.filter {
            executors[$0].pool == Int32(pool) && filter(executors[$0])
        }
        let k: Int
        switch share {
        case .fraction(let f): k = Int((f * Double(ids.count)).rounded())
        case .count(let c): k = min(c, ids.count)
        }
        for i in 0..<k {
            let j = i + faultStream.integer(below: ids.count - i)
            ids.swapAt(i, j)
        }
        return ids[..<k].sorted()
    }
}
