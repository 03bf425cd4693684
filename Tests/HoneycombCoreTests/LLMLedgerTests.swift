import HoneycombCore
import Testing

/// The router's money and limits survive a rebuild from the store: what the effects recorded
/// (`llmCallOpened`, `llmCallEnded`) restores a fresh plane to the same budgets, windows and
/// open calls.
struct LLMLedgerTests {
    static let spec = ExecutorSpec(labels: LabelSet(), capacity: Resources(cpuMillis: 8000, memoryBytes: 1 << 34, slots: 4))

    /// A plane whose one cloud allows three calls a minute and 1,000 µ$, and a store of its calls.
    struct Store {
        var plane: ControlPlane
        var calls: [Int64: LLMCallRecord] = [:]
        var now = Instant.zero
        var next: Int64 = 0

        static let config: PlaneConfig = {
            let cloud = CloudProvider(name: "cloud", models: [ModelID(0)], inputPricePerMillion: 1, outputPricePerMillion: 1,
                                      requestsPerMinute: 3, budgetMicroUSD: 1_000)
            return PlaneConfig(llm: LLMRouterConfig(models: [LLMModel(name: "m")], providers: [cloud], callTimeout: .seconds(120)))
        }()

        init() {
            plane = ControlPlane(config: Self.config, agents: [smallAgent])
            var fx = PlaneEffects()
            plane.handle(.executorRegistered(ExecutorID(0), LLMLedgerTests.spec), at: now, effects: &fx)
        }

        mutating func keep(_ fx: PlaneEffects) {
            for effect in fx.list {
                switch effect {
                case .llmCallOpened(let r): calls[r.id] = r
                case .llmCallEnded(let id, let cost, let tokens):
                    calls[id]?.costMicroUSD = cost
                    calls[id]?.windowTokens = tokens
                default: break
                }
            }
        }

        /// 100 prompt and 200 completion tokens: 300 µ$ reserved.
        mutating func route() -> LLMDecision {
            next += 1
            var fx = PlaneEffects()
            let reply = plane.handle(.llmRouteRequested(LLMRequest(id: next, origin: ExecutorID(0), model: ModelID(0),
                                                                   promptTokens: 100, maxCompletionTokens: 200,
                                                                   latencyTarget: .seconds(60))), at: now, effects: &fx)
            keep(fx)
            guard case .routed(let d) = reply else { preconditionFailure("not routed: \(reply)") }
            return d
        }

        mutating func complete(_ id: Int64, output: Int) -> Int64? {
            var fx = PlaneEffects()
            let reply = plane.handle(.llmCompleted(id, .succeeded(inputTokens: 100, outputTokens: output),
                                                   reportedBy: ExecutorID(0)), at: now, effects: &fx)
            keep(fx)
            guard case .settled(let cost) = reply else { return nil }
            return cost
        }

        /// A fresh plane from what the store holds, as a failover builds it.
        mutating func rebuild() {
            let ended = calls.values.filter { $0.costMicroUSD != nil }
            let ledger = LLMLedger(calls: Array(calls.values),
                                   spentByProvider: [ended.reduce(0) { $0 + $1.costMicroUSD! }],
                                   spentByTenant: [ended.reduce(0) { $0 + $1.costMicroUSD! }])
            plane = ControlPlane(config: Self.config)
            var fx = PlaneEffects()
            plane.handle(.restored(PlaneSnapshot(agents: [smallAgent], executors: [.init(id: ExecutorID(0), spec: LLMLedgerTests.spec)],
                                                 llm: ledger)), at: now, effects: &fx)
            keep(fx)
        }
    }

    @Test func aRebuiltPlaneKeepsTheBudgetTheRateWindowAndTheOpenCalls() {
        var s = Store()
        let a = s.route(), b = s.route()
        #expect(a.target == .cloud(ProviderID(0)) && b.reservedMicroUSD == 300)
        #expect(s.complete(a.request, output: 100) == 200)
        s.now = s.now + .seconds(10)
        s.rebuild()
        #expect(s.plane.openLLMCalls == 1)
        // Spent 200, reserved 300: one more call of 300 fits the 1,000; the one after does not.
        let c = s.route()
        #expect(c.target == .cloud(ProviderID(0)))
        // The window holds a, b and c: a fourth this minute is refused for the rate, not the budget.
        #expect(s.route().reason == .rejectedRateLimit)
        // The open call survived with its reservation: it ends on the new plane, charged at its prices.
        #expect(s.complete(b.request, output: 50) == 150)
        // A minute on, the window is free again, and the budget (200 + 150 + 300 reserved) still binds.
        s.now = s.now + .seconds(61)
        #expect(s.route().target == .cloud(ProviderID(0)))
        #expect(s.route().reason == .rejectedBudget)
    }

    @Test func anOpenCallWhoseExecutorIsGoneIsAbandonedAtTheRebuildChargedItsReservation() {
        var s = Store()
        let a = s.route()
        let ledger = LLMLedger(calls: Array(s.calls.values))
        var fresh = ControlPlane(config: Store.config)
        var fx = PlaneEffects()
        fresh.handle(.restored(PlaneSnapshot(agents: [smallAgent], executors: [], llm: ledger)), at: s.now, effects: &fx)
        #expect(fresh.openLLMCalls == 0)
        #expect(fx.list.contains { if case .llmCallEnded(a.request, 300, _) = $0 { true } else { false } })
    }

    @Test func callIDsAndDeadlinesComeBackWithTheirCalls() {
        var s = Store()
        let a = s.route()
        s.now = s.now + .seconds(30)
        let ledger = LLMLedger(calls: Array(s.calls.values))
        var fresh = ControlPlane(config: Store.config)
        var fx = PlaneEffects()
        fresh.handle(.restored(PlaneSnapshot(agents: [smallAgent], executors: [.init(id: ExecutorID(0), spec: Self.spec)],
                                             llm: ledger)), at: s.now, effects: &fx)
        // Its deadline is two minutes after it was routed, not after the rebuild.
        #expect(fx.list.contains { if case .setTimer(.llmCallDeadline(a.request), .zero + .seconds(120)) = $0 { true } else { false } })
    }
}
