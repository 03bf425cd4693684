import HoneycombCore
import HoneycombDriver

/// LLM calls, presence, and the invariants on the router's money and limits.
extension FuzzRun {
    /// What executor `id` reports of itself: with a model of its own on every other one, when
    /// the seed says so.
    func spec(of id: Int64) -> ExecutorSpecBody {
        let models = shape.localModels && id % 2 == 0
            ? [ExecutorSpecBody.LocalModelBody(model: "small", slots: 1, tokensPerSecond: 200, queueLimit: 1)] : nil
        return ExecutorSpecBody(labels: [:], cpuMillis: 4000, memoryBytes: 8 << 30, slots: Int64(shape.slots),
                                localModels: models)
    }

    /// A running attempt asks where its LLM call goes, as an agent does.
    func routeCall(_ k: Int, _ now: Instant) async throws {
        let id = executors[k].id
        let prompt = 50 + llm.integer(below: 800), most = 20 + llm.integer(below: 300)
        let localOnly = llm.bernoulli(0.2)
        let body = LLMRouteBody(executor: id, model: llm.bernoulli(0.5) ? "small" : "big", promptTokens: prompt,
                                maxCompletionTokens: most, latencyTargetMs: 30_000, localOnly: localOnly,
                                allowSmallerModel: llm.bernoulli(0.5))
        guard let d = await call("route from \(id)", { try await plane.route(body) }) else { return }
        log("executor \(id): LLM call \(d.request) \(body.model)\(localOnly ? " local-only" : "") → \(d.target) (\(d.reason.rawValue))")
        // Private calls never leave their machine (every executor here is the shared tenant's,
        // so no peer is its owner's own).
        if localOnly, d.target != .rejected, d.target != .local(ExecutorID(Int32(id))) {
            throw violation("private calls stay home", "local-only call \(d.request) of executor \(id) went to \(d.target)")
        }
        guard d.target != .rejected else { return }
        let output = llm.integer(below: most + 1)
        executors[k].calls.append(OpenCall(id: d.request, ends: now + .seconds(llm.flat(0.1, 4)), inputTokens: prompt,
                                           outputTokens: output, fails: llm.bernoulli(0.1)))
    }

    /// Calls whose time is up are reported ended; one the plane no longer holds (it gave it
    /// up: its deadline passed, or the executor was lost) is dropped.
    func endCalls(_ k: Int, _ now: Instant) async {
        let id = executors[k].id
        while let c = executors[k].calls.first(where: { $0.ends <= now }) {
            guard loop != nil else { return }
            let outcome: LLMOutcome = c.fails ? .failed(retryAfter: nil)
                : .succeeded(inputTokens: c.inputTokens, outputTokens: c.outputTokens)
            do {
                let cost = try await plane.complete(call: c.id, executor: id, outcome)
                log("executor \(id): LLM call \(c.id) ended, charged \(cost) µ$")
            } catch PlaneRefusal.unknownCall {
                log("executor \(id): LLM call \(c.id) was given up by the plane")
            } catch {
                log("LLM call \(c.id) end: refused: \(error)")
                await noticeStoppedLoop()
                return  // reported again when the plane is back
            }
            executors[k].calls.removeAll { $0.id == c.id }
        }
    }

    /// The replica's refill of presence, and its promise: every executor the plane holds
    /// online is present afterwards.
    func refillPresence() async throws {
        await plane.refillPresence()
        let present = Set(try await presence.present())
        for e in executors {
            guard let view = await plane.executorView(e.id), view.state == "online" || view.state == "draining" else { continue }
            if !present.contains(e.id) {
                throw violation("presence refilled", "executor \(e.id) is \(view.state) in the plane but not present after a refill")
            }
        }
    }

    /// Budgets and rate limits, on what the store holds (what was promised is durable before
    /// it is answered): what ended calls were charged plus what open ones reserve never
    /// passes a budget, and no minute holds more cloud calls than the provider allows. And
    /// the plane holds open exactly the calls the store holds open.
    func checkLLMLedger() async throws {
        // Sums and counts over the whole ledger; only the calls new since the last step are
        // put in order, for the rate check.
        let calls = await store.llmCalls.values
        var committed: Int64 = 0, open = 0
        var fresh: [StoredLLMCall] = []
        for c in calls {
            if c.costMicroUSD == nil { open += 1 }
            guard c.target == "cloud" else { continue }
            committed += c.costMicroUSD ?? c.reservedMicroUSD
            if c.id > rateChecked { fresh.append(c) }
        }
        if let budget = shape.providerBudget, committed > budget {
            throw violation("budgets never exceeded", "the cloud holds \(committed) µ$ charged or reserved, over its \(budget) µ$")
        }
        if let budget = shape.tenantBudget, committed > budget {
            throw violation("budgets never exceeded", "the shared tenant holds \(committed) µ$ charged or reserved, over its \(budget) µ$")
        }
        if let rpm = shape.requestsPerMinute, !fresh.isEmpty {
            fresh.sort { $0.id < $1.id }
            let cloud = calls.filter { $0.target == "cloud" }
            for c in fresh {
                let inMinute = cloud.filter { $0.id <= c.id && $0.routedNs > c.routedNs - 60_000_000_000 }.count
                if inMinute > rpm {
                    throw violation("rate limits never exceeded", "call \(c.id) is the \(inMinute)th cloud call in a minute; "
                                    + "the provider allows \(rpm)")
                }
            }
            rateChecked = fresh.last!.id
        }
        if loop != nil {
            let held = await plane.openCalls
            if open != held {
                throw violation("store and plane agree", "the store holds \(open) open LLM calls, the plane \(held)")
            }
        }
    }
}
