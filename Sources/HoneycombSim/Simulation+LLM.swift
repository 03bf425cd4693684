import HoneycombCore
import HoneycombStats

/// One LLM call in the world.
struct LLMCall {
    var agent: Int32
    var origin: Int32
    var model: ModelID
    var prompt: Int
    var completion: Int
    var asked: Instant
    var target: LLMTarget = .rejected
    /// When it got a slot (local and peer), and when its first token came.
    var firstToken = Instant.zero
    var failed = false
    /// What the plane charged when it abandoned the call (its executor was given up first).
    var abandonedCost: Int64?
}

/// A model an executor serves, as the world runs it.
struct LocalServer {
    var model: ModelID
    var spec: Scenario.PoolLLM
    /// When the model is (or will be) loaded; `distantFuture` while cold and not loading.
    var warmAt = Instant.distantFuture
    var inService: [Int64] = []
    var queue = FIFO<Int64>()
}

extension Simulation {
    /// The task began on `e`: its LLM calls happen evenly spread over its run.
    mutating func scheduleLLMCalls(_ task: TaskID, _ attempt: UInt16, on e: Int) {
        let t = tasks[task.index]
        guard let llm = scenario.agents[Int(t.agent)].llm else { return }
        for k in 1...llm.calls {
            let offset = TimeSpan(nanoseconds: t.runtime.nanoseconds / Int64(llm.calls + 1) * Int64(k))
            queue.push(.llmCall(task: task.rawValue, attempt: attempt, executor: Int32(e)), at: now + offset)
        }
    }

    /// A running task calls its LLM: the plane decides where the call goes.
    mutating func llmCall(_ task: TaskID, _ attempt: UInt16, _ e: Int) {
        guard executors[e].up, !executors[e].partitioned,
              executors[e].runningTasks.contains(where: { $0.task == task.rawValue && $0.attempt == attempt }) else { return }
        let t = tasks[task.index]
        let llm = scenario.agents[Int(t.agent)].llm!
        let stream = llmTokenStreams[Int(t.agent)]
        let prompt = Int(llm.promptTokens.sample(stream).rounded())
        let completion = min(llm.maxCompletionTokens, Int(llm.completionTokens.sample(stream).rounded()))
        let id = nextLLMCall
        nextLLMCall += 1
        llmCalls[id] = LLMCall(agent: t.agent, origin: Int32(e), model: llm.model, prompt: prompt, completion: completion,
                               asked: now)
        metrics.llmAsked(at: now)
        send(.llmRouteRequested(LLMRequest(id: id, tenant: TenantID(t.tenant), origin: ExecutorID(e), model: llm.model,
                                           promptTokens: prompt, maxCompletionTokens: llm.maxCompletionTokens,
                                           expectedCompletionTokens: Int(llm.completionTokens.mean.rounded()),
                                           latencyTarget: llm.latencyTarget, localOnly: llm.localOnly,
                                           allowSmallerModel: llm.allowSmallerModel)))
    }

    /// The plane routed a call: serve it there.
    mutating func llmRouted(_ d: LLMDecision) {
        guard var call = llmCalls[d.request] else { return }
        call.target = d.target
        call.model = d.model
        llmCalls[d.request] = call
        metrics.llmRouted(d, askedAt: call.asked)
        let router = scenario.llm!.router
        switch d.target {
        case .local(let e): serveLocally(d.request, on: e.index, after: .zero)
        case .peer(let e):
            let sameSite = poolSpecs[Int(executors[Int(call.origin)].pool)].labels["site"]
                == poolSpecs[Int(executors[e.index].pool)].labels["site"]
            serveLocally(d.request, on: e.index, after: sameSite ? router.peerDelaySameSite : router.peerDelaySameRegion)
        case .cloud(let p):
            let cloud = scenario.llm!.clouds[p.index]
            if now < providerDownUntil[p.index] {
                // Down: it answers fast, with an error.
                llmFinish(d.request, failed: true, at: now + .milliseconds(50), retryAfter: providerRetryAfter[p.index])
            } else {
                let ttft = TimeSpan.seconds(cloud.timeToFirstToken.sampleSeconds(cloudStreams[p.index]))
                let fails = cloudStreams[p.index].bernoulli(cloud.failure)
                llmCalls[d.request]!.firstToken = now + ttft
                let decode = TimeSpan.seconds(Double(call.completion) / cloud.tokensPerSecond)
                llmFinish(d.request, failed: fails, at: now + ttft + (fails ? .zero : decode), retryAfter: nil)
            }
        case .rejected:
            llmCalls[d.request] = nil
        }
    }

    /// Starts the call on the executor's server for its model, or queues it for a slot.
    private mutating func serveLocally(_ id: Int64, on e: Int, after delay: TimeSpan) {
        guard executors[e].up, let k = llmServers[e].firstIndex(where: { $0.model == llmCalls[id]!.model }) else {
            llmFinish(id, failed: true, at: now + delay, retryAfter: nil)
            return
        }
        if llmServers[e][k].inService.count < llmServers[e][k].spec.slots {
            startService(id, e, k, after: delay)
        } else {
            llmServers[e][k].queue.append(id)
        }
    }

    /// Service on a local server: load if cold, read the prompt (ten times decode speed),
    /// decode — slower the more calls share the model (batching).
    private mutating func startService(_ id: Int64, _ e: Int, _ k: Int, after delay: TimeSpan) {
        let server = llmServers[e][k]
        let call = llmCalls[id]!
        let start = now + delay
        let load = server.warmAt == .distantFuture ? server.spec.loadTime
            : server.warmAt > start ? server.warmAt - start : .zero
        if server.warmAt == .distantFuture { llmServers[e][k].warmAt = start + load }
        llmServers[e][k].inService.append(id)
        let tps = server.spec.tokensPerSecond / (1 + server.spec.batchSlowdown * Double(server.inService.count))
        let prompt = TimeSpan.seconds(Double(call.prompt) / (10 * tps))
        llmCalls[id]!.firstToken = now + delay + load + prompt
        llmFinish(id, failed: false, at: now + delay + load + prompt + .seconds(Double(call.completion) / tps), retryAfter: nil)
    }

    private mutating func llmFinish(_ id: Int64, failed: Bool, at: Instant, retryAfter: TimeSpan?) {
        llmCalls[id]!.failed = failed
        if let retryAfter { pendingRetryAfter[id] = retryAfter }
        queue.push(.llmDone(call: id), at: at)
    }

    /// A call ended: free its slot and tell the plane, which settles it (`llmSettled`).
    mutating func llmDone(_ id: Int64) {
        guard let call = llmCalls[id] else { return }
        if case .local(let e) = call.target { freeSlot(id, e.index, call.model) }
        if case .peer(let e) = call.target { freeSlot(id, e.index, call.model) }
        let retryAfter = pendingRetryAfter.removeValue(forKey: id)
        send(.llmCompleted(id, call.failed ? .failed(retryAfter: retryAfter)
                                           : .succeeded(inputTokens: call.prompt, outputTokens: call.completion),
                           reportedBy: ExecutorID(Int(call.origin))))
    }

    /// The plane settled a call that ended, at `costMicroUSD` (nil: it no longer knew the
    /// call, which it had abandoned): count it.
    mutating func llmSettled(_ id: Int64, costMicroUSD: Int64?) {
        guard let call = llmCalls.removeValue(forKey: id) else { return }
        let prices = providerPrices, providers = scenario.llm!.router.providers
        metrics.llmDone(call, slo: scenario.agents[Int(call.agent)].llm!.latencyTarget, at: now,
                        cost: costMicroUSD ?? call.abandonedCost ?? 0,
                        cloudEquivalent: { Self.cheapestCloudCost(call, providers, prices) })
    }

    /// The plane gave up a call whose executor it gave up: its end, when it comes, is counted
    /// at what the plane charged now.
    mutating func llmAbandoned(_ id: Int64, costMicroUSD: Int64) {
        llmCalls[id]?.abandonedCost = costMicroUSD
    }

    private mutating func freeSlot(_ id: Int64, _ e: Int, _ model: ModelID) {
        guard let k = llmServers[e].firstIndex(where: { $0.model == model }),
              let i = llmServers[e][k].inService.firstIndex(of: id) else { return }
        llmServers[e][k].inService.remove(at: i)
        if !llmServers[e][k].queue.isEmpty { startService(llmServers[e][k].queue.removeFirst(), e, k, after: .zero) }
    }

    /// What the cheapest cloud serving the model would have charged for the call, at today's prices.
    private static func cheapestCloudCost(_ call: LLMCall, _ providers: [CloudProvider],
                                          _ prices: [(input: Double, output: Double)]) -> Int64 {
        var best: Int64?
        for p in prices.indices where providers[p].models.contains(call.model) {
            let c = Int64((Double(call.prompt) * prices[p].input + Double(call.completion) * prices[p].output).rounded(.up))
            if best == nil || c < best! { best = c }
        }
        return best ?? 0
    }

    /// The plane asks an executor to load a model before the next call needs it.
    mutating func llmWarmUp(_ e: Int, _ model: ModelID) {
        guard executors[e].up, let k = llmServers[e].firstIndex(where: { $0.model == model }),
              llmServers[e][k].warmAt == .distantFuture else { return }
        llmServers[e][k].warmAt = now + llmServers[e][k].spec.loadTime
    }

    /// A new life of the executor: its model servers start cold and empty; calls it was
    /// serving fail.
    mutating func resetLLMServers(_ e: Int) {
        guard scenario.llm != nil else { return }
        while llmServers.count <= e { llmServers.append([]) }
        for server in llmServers[e] {
            var waiting = server.queue
            var ids = server.inService
            while !waiting.isEmpty { ids.append(waiting.removeFirst()) }
            for id in ids where llmCalls[id] != nil { llmFinish(id, failed: true, at: now, retryAfter: nil) }
        }
        let pool = scenario.pools[Int(executors[e].pool)]
        llmServers[e] = pool.llm.map { spec in spec.models.map { LocalServer(model: $0, spec: spec) } } ?? []
    }
}
