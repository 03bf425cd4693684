import HoneycombCore
import HoneycombStats

/// One simulated executor: the truth the plane only learns about through messages.
struct ExecutorModel {
    var pool: Int32
    /// Running (including draining or cut off by a partition).
    var up = false
    var draining = false
    /// The plane has taken its `draining`: from then on it sends nothing new, so once what
    /// is on its way has arrived and run, the executor may go.
    var drainHeard = false
    var partitioned = false
    /// Removed by a scenario event: never comes back.
    var retired = false
    /// Bumped by every `comeUp`: the uptime that ends with `goDown` belongs to one session.
    var session: UInt32 = 0
    /// Bumped whenever the executor goes down or registers again, so that events of an
    /// earlier life (completions, heartbeats, dispatches) are recognised and dropped.
    var incarnation: UInt32 = 0
    var running: Int32 = 0
    /// Dispatches sent to this incarnation that have not arrived yet.
    var inflight: Int32 = 0
    var slots: Int32
    /// The attempts running here now. Two attempts of one task can run at once on different
    /// executors (one cut off and given up, one placed anew), so this is kept per executor.
    var runningTasks: [RunningAttempt] = []
    /// Attempts the plane preempted before their dispatch arrived: dropped when it does.
    var cancelled: [RunningAttempt] = []
    /// When it crashed, until the plane notices (`.distantFuture` otherwise).
    var crashedAt = Instant.distantFuture
}

/// One attempt on an executor: which, and since when.
struct RunningAttempt {
    var task: Int32
    var attempt: UInt16
    var start: Instant
}

/// Messages held while an executor is cut off from the plane, delivered when it heals.
struct HeldMessages {
    var reports: [PlaneInput] = []
    var dispatches: [(task: Int32, attempt: UInt16)] = []
    var preempts: [(task: Int32, attempt: UInt16)] = []
}

extension Simulation {
    /// Creates an executor of pool `p`. At the start of a run a churning executor begins up or
    /// down in proportion to its mean up and down times, so that the fleet starts near its
    /// long-run state (exactly so for exponential up and down times).
    mutating func startExecutor(pool p: Int, initial: Bool) {
        let id = executors.count
        executors.append(ExecutorModel(pool: Int32(p), slots: Int32(scenario.pools[p].resources.slots)))
        messagesInFlight.append(0)
        heartbeatToken.append(0)
        channelFree.append(.zero)
        churnStreams.append(RandomStream(runSeed: replicationSeed, purpose: "churn/\(scenario.pools[p].name)/\(id)",
                                         generator: .taus2))
        if let churn = scenario.pools[p].churn, initial {
            let up = churn.uptime.mean, down = churn.downtime.mean
            let pUp = up.isFinite ? up / (up + down) : 1
            if !churnStreams[id].bernoulli(pUp) {
                queue.push(.comeUp(executor: Int32(id)), at: now + .seconds(churn.downtime.sampleSeconds(churnStreams[id])))
                return
            }
        }
        comeUp(id)
    }

    /// The executor starts (or restarts) and registers.
    mutating func comeUp(_ e: Int) {
        guard !executors[e].up, !executors[e].retired else { return }
        // Registration must not overtake the previous life's last messages (its `left`).
        if messagesInFlight[e] > 0 {
            queue.push(.comeUp(executor: Int32(e)), at: channelFree[e])
            return
        }
        metrics.executorChanged(e, up: +1, slots: Int(executors[e].slots), at: now, churn: now > .zero)
        executors[e].up = true
        executors[e].session &+= 1
        register(e)
        if let churn = scenario.pools[Int(executors[e].pool)].churn {
            queue.push(.goDown(executor: Int32(e), session: executors[e].session),
                       at: now + .seconds(churn.uptime.sampleSeconds(churnStreams[e])))
        }
    }

    /// A fresh life: nothing running, nothing in flight, heartbeats from a random phase.
    private mutating func register(_ e: Int) {
        executors[e].incarnation &+= 1
        executors[e].draining = false
        executors[e].drainHeard = false
        executors[e].partitioned = false
        heartbeatToken[e] = executors[e].incarnation
        executors[e].inflight = 0
        abandonRunning(e)
        resetLLMServers(e)
        held[Int32(e)] = nil
        send(.executorRegistered(ExecutorID(e), poolSpecs[Int(executors[e].pool)]))
        let interval = scenario.policy.heartbeatInterval
        let phase = TimeSpan.seconds(heartbeatStream.uniform() * interval.seconds)
        queue.push(.heartbeat(executor: Int32(e), incarnation: executors[e].incarnation), at: now + phase)
    }

    mutating func heartbeat(_ e: Int, _ incarnation: UInt32) {
        if heartbeatToken[e] == incarnation {
            send(.executorHeartbeat(ExecutorID(e)))
            // The plane may have told it to register again, which starts a new chain.
            guard heartbeatToken[e] == incarnation else { return }
        } else {
            // Down, of an earlier life, or cut off (which keeps beating, unheard).
            guard executors[e].up, executors[e].incarnation == incarnation else { return }
        }
        queue.push(.heartbeat(executor: Int32(e), incarnation: incarnation), at: now + scenario.policy.heartbeatInterval,
                   lane: Lane.heartbeats.rawValue)
    }

    /// The end of an uptime: crash (silently) or drain and leave.
    mutating func goDown(_ e: Int, _ session: UInt32) {
        guard executors[e].up, executors[e].session == session else { return }
        let crash = scenario.pools[Int(executors[e].pool)].churn?.crash ?? 0
        if churnStreams[e].bernoulli(crash) { self.crash(e) } else { drain(e) }
    }

    mutating func crash(_ e: Int) {
        guard executors[e].up else { return }
        takeDown(e)
        executors[e].crashedAt = now
        scheduleReturn(e)
    }

    /// The plane declared the executor lost, or saw it register again: if it had crashed,
    /// that is how long the crash took to notice.
    mutating func lossNoticed(_ e: Int) {
        guard e >= 0, e < executors.count, executors[e].crashedAt != .distantFuture else { return }
        metrics.lossDetected(after: now - executors[e].crashedAt, at: now)
        executors[e].crashedAt = .distantFuture
    }

    /// Everything running here dies with this life of the executor: its work so far is lost.
    private mutating func abandonRunning(_ e: Int) {
        for r in executors[e].runningTasks {
            metrics.workLost(now - r.start, at: now)
            metrics.tenantBusyChanged(Int(tasks[Int(r.task)].tenant), by: -1, at: now)
        }
        executors[e].runningTasks.removeAll()
        executors[e].cancelled.removeAll()
        setRunning(e, 0)
    }

    /// Stops taking work; leaves once the plane has heard it and nothing runs or is on its way.
    mutating func drain(_ e: Int) {
        guard executors[e].up, !executors[e].draining else { return }
        executors[e].draining = true
        message(e, .executorDraining(ExecutorID(e)))
    }

    /// The plane took the executor's `draining` (the answer to its request): whatever the
    /// plane sent it before is counted in `inflight`, and nothing more will come.
    mutating func drainHeard(_ e: Int) {
        guard executors[e].up, executors[e].draining else { return }
        executors[e].drainHeard = true
        leaveIfIdle(e)
    }

    /// A draining executor leaves once the plane has heard it drain (until then a dispatch
    /// may be on its way that it cannot count yet), it runs nothing, expects nothing, and can
    /// reach the plane (a cut-off one waits for the heal, so that its held reports are not lost).
    mutating func leaveIfIdle(_ e: Int) {
        // Fields read in place: a copy of the executor would retain its arrays.
        guard executors[e].draining, executors[e].drainHeard, executors[e].running == 0, executors[e].inflight == 0,
              !executors[e].partitioned else { return }
        message(e, .executorLeft(ExecutorID(e)))
        takeDown(e)
        scheduleReturn(e)
    }

    private mutating func takeDown(_ e: Int) {
        abandonRunning(e)
        resetLLMServers(e)
        metrics.executorChanged(e, up: -1, slots: -Int(executors[e].slots), at: now, churn: true)
        executors[e].up = false
        executors[e].draining = false
        executors[e].drainHeard = false
        executors[e].partitioned = false
        executors[e].inflight = 0
        executors[e].incarnation &+= 1
        heartbeatToken[e] = 0
        held[Int32(e)] = nil
    }

    private mutating func scheduleReturn(_ e: Int) {
        guard !executors[e].retired, let churn = scenario.pools[Int(executors[e].pool)].churn else { return }
        queue.push(.comeUp(executor: Int32(e)), at: now + .seconds(churn.downtime.sampleSeconds(churnStreams[e])))
    }

    /// The plane gave this executor up: it drops what it runs and registers again, unless it
    /// was on its way out anyway, in which case it simply goes.
    mutating func reregister(_ e: Int) {
        guard executors[e].up else { return }
        if executors[e].draining || executors[e].retired {
            takeDown(e)
            scheduleReturn(e)
        } else {
            register(e)
        }
    }

    /// An executor → plane message: held while partitioned, otherwise sent down the
    /// executor's ordered channel after the network's report delay.
    mutating func message(_ e: Int, _ input: PlaneInput) {
        if executors[e].partitioned {
            held[Int32(e), default: HeldMessages()].reports.append(input)
            return
        }
        let delay = scenario.network.report.sampleSeconds(reportStream)
        if delay <= 0 && messagesInFlight[e] == 0 {
            send(input)
            return
        }
        // Never before an earlier message of the same executor: the channel keeps order.
        // (Events due at one instant run in the order scheduled, so a message due when the
        // previous one is arrives after it.)
        let at = max(now + .seconds(delay), channelFree[e])
        channelFree[e] = at
        messagesInFlight[e] += 1
        let slot: Int
        if let free = freeMessageSlots.popLast() {
            slot = Int(free)
            messagesOnTheWire[slot] = input
        } else {
            slot = messagesOnTheWire.count
            messagesOnTheWire.append(input)
        }
        queue.push(.deliver(message: Int32(slot), executor: Int32(e)), at: at, lane: Lane.messages.rawValue)
    }

    /// A message arrives at the plane.
    mutating func deliver(_ slot: Int, from e: Int) {
        let input = messagesOnTheWire[slot].unsafelyUnwrapped
        messagesOnTheWire[slot] = nil
        freeMessageSlots.append(Int32(slot))
        messagesInFlight[e] -= 1
        send(input)
    }

    mutating func dispatch(_ task: TaskID, _ attempt: UInt16, _ e: Int) {
        if executors[e].up { executors[e].inflight += 1 }
        after(scenario.network.dispatch, dispatchStream,
              .dispatchArrives(task: task.rawValue, attempt: attempt, executor: Int32(e),
                               incarnation: executors[e].incarnation), lane: .orders)
    }

    mutating func dispatchArrives(_ task: TaskID, _ attempt: UInt16, _ e: Int, _ incarnation: UInt32) {
        // Sent to an earlier life, or to an executor that is down: the message is lost.
        guard executors[e].up, executors[e].incarnation == incarnation else { return }
        executors[e].inflight -= 1
        if takeCancelled(task, attempt, e) {
            leaveIfIdle(e)
            return
        }
        if executors[e].partitioned {
            held[Int32(e), default: HeldMessages()].dispatches.append((task.rawValue, attempt))
            return
        }
        start(task, attempt, e)
    }

    /// True (and forgotten) when the plane preempted this attempt before it arrived.
    private mutating func takeCancelled(_ task: TaskID, _ attempt: UInt16, _ e: Int) -> Bool {
        guard let k = executors[e].cancelled.firstIndex(where: { $0.task == task.rawValue && $0.attempt == attempt })
        else { return false }
        executors[e].cancelled.remove(at: k)
        return true
    }

    private mutating func start(_ task: TaskID, _ attempt: UInt16, _ e: Int) {
        executors[e].runningTasks.append(RunningAttempt(task: task.rawValue, attempt: attempt, start: now))
        setRunning(e, Int32(executors[e].runningTasks.count))
        metrics.tenantBusyChanged(Int(tasks[task.index].tenant), by: +1, at: now)
        if tasks[task.index].firstStart == .distantFuture {
            tasks[task.index].firstStart = now
            metrics.taskStarted(tasks[task.index], at: now)
        }
        scheduleLLMCalls(task, attempt, on: e)
        queue.push(.taskCompletes(task: task.rawValue, attempt: attempt, executor: Int32(e),
                                  incarnation: executors[e].incarnation),
                   at: now + tasks[task.index].runtime)
        message(e, .taskStarted(task, attempt: attempt, on: ExecutorID(e)))
    }

    mutating func taskCompletes(_ task: TaskID, _ attempt: UInt16, _ e: Int, _ incarnation: UInt32) {
        readAheadWord ^= plane.readAhead(task: task, on: ExecutorID(e)) ^ UInt32(bitPattern: tasks[task.index].tenant)
            ^ metrics.readAhead(executor: e)
        guard executors[e].up, executors[e].incarnation == incarnation, stopRunning(task, attempt, on: e) != nil else {
            return
        }
        let t = tasks[task.index]
        let fails = t.attemptUniform(attempt) < scenario.agents[Int(t.agent)].failure
        message(e, fails ? .taskFailed(task, attempt: attempt, on: ExecutorID(e))
                         : .taskSucceeded(task, attempt: attempt, on: ExecutorID(e)))
        leaveIfIdle(e)
    }

    /// The plane preempted this attempt: stop it if it runs, or drop it when it arrives.
    mutating func preemptArrives(_ task: TaskID, _ attempt: UInt16, _ e: Int, _ incarnation: UInt32) {
        guard executors[e].up, executors[e].incarnation == incarnation else { return }
        if executors[e].partitioned {
            held[Int32(e), default: HeldMessages()].preempts.append((task.rawValue, attempt))
            return
        }
        applyPreempt(task, attempt, e)
    }

    private mutating func applyPreempt(_ task: TaskID, _ attempt: UInt16, _ e: Int) {
        if let stopped = stopRunning(task, attempt, on: e) {
            metrics.workPreempted(now - stopped.start, at: now)
            leaveIfIdle(e)
        } else {
            executors[e].cancelled.append(RunningAttempt(task: task.rawValue, attempt: attempt, start: now))
        }
    }

    /// Stops the attempt if it runs here; returns it, or nil when it does not run here.
    private mutating func stopRunning(_ task: TaskID, _ attempt: UInt16, on e: Int) -> RunningAttempt? {
        guard let k = executors[e].runningTasks.firstIndex(where: { $0.task == task.rawValue && $0.attempt == attempt })
        else { return nil }
        let stopped = executors[e].runningTasks.remove(at: k)
        setRunning(e, Int32(executors[e].runningTasks.count))
        metrics.tenantBusyChanged(Int(tasks[task.index].tenant), by: -1, at: now)
        return stopped
    }

    mutating func partition(_ e: Int, for span: TimeSpan) {
        guard executors[e].up, !executors[e].partitioned else { return }
        executors[e].partitioned = true
        heartbeatToken[e] = 0
        queue.push(.partitionHeals(executor: Int32(e), incarnation: executors[e].incarnation), at: now + span)
    }

    /// Contact returns: a heartbeat first. If the plane gave the executor up meanwhile it
    /// answers by asking it to register again, which drops what was held; otherwise the held
    /// reports go out and the held dispatches start.
    mutating func partitionHeals(_ e: Int, _ incarnation: UInt32) {
        guard executors[e].up, executors[e].incarnation == incarnation, executors[e].partitioned else { return }
        executors[e].partitioned = false
        heartbeatToken[e] = incarnation
        let waiting = held.removeValue(forKey: Int32(e)) ?? HeldMessages()
        send(.executorHeartbeat(ExecutorID(e)))
        guard executors[e].up, executors[e].incarnation == incarnation else { return }
        for input in waiting.reports { message(e, input) }
        for p in waiting.preempts { applyPreempt(TaskID(p.task), p.attempt, e) }
        for d in waiting.dispatches where !takeCancelled(TaskID(d.task), d.attempt, e) { start(TaskID(d.task), d.attempt, e) }
        leaveIfIdle(e)
    }

    private mutating func setRunning(_ e: Int, _ n: Int32) {
        let delta = Int(n - executors[e].running)
        if delta != 0 { metrics.busyChanged(executor: e, by: delta, at: now) }
        executors[e].running = n
    }
}
