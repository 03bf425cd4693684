import HoneycombCore
import Testing

/// The fleet's one liveness timer against a model of the rule: on random histories of
/// registrations, heartbeats (some stamped by a clock that went back: taken as heard at the
/// latest instant heard), drains, departures and recoveries within a lease, with the plane's
/// timers fired when they fall due, every present executor silent for the timeout is
/// declared lost exactly when its timeout runs out, no other is, and one timer at most is
/// pending.
@Suite struct LivenessTests {
    typealias Draws = CapacityIndexTests.Draws

    @Test(arguments: 0..<48) func lossesComeExactlyWhenTheTimeoutRunsOut(_ seed: Int) {
        var draws = Draws(state: UInt64(seed) &* 0x51_7CC1)
        let timeout = TimeSpan.seconds(30)
        let leases = seed % 2 == 0, clockGoesBack = seed % 4 >= 2
        var h = PlaneHarness(config: PlaneConfig(heartbeatTimeout: timeout, lease: leases ? .seconds(60) : nil),
                             agents: [smallAgent])
        let n = 4 + draws.below(28)
        // The model: when each present executor was last heard from (nil: not present).
        var heard = [Instant?](repeating: nil, count: n)
        var pending: [Instant] = []
        var backSteps = 0, losses = 0, recoveries = 0, tasks = 0
        // The latest instant an executor was heard at: no word is stamped earlier.
        var latest = Instant.zero
        func stamp(_ t: Instant) -> Instant {
            latest = max(latest, t)
            return latest
        }

        /// Notes the timers the effects arm and checks the losses they declare against the model.
        func take(_ fx: [PlaneEffect]) {
            pending += h.timers(in: fx).filter { $0.0 == .liveness }.map(\.1)
            for case .audit(let a) in fx where a.kind == .executorLost {
                let e = Int(a.executor)
                #expect(heard[e].map { $0 + timeout } == h.now, "seed \(seed): executor \(e) lost at \(h.now), heard \(String(describing: heard[e]))")
                heard[e] = nil
                losses += 1
            }
            #expect(pending.count <= 1, "seed \(seed): \(pending.count) liveness timers pending")
        }

        var now = Instant.zero
        for _ in 0..<600 {
            now = now + .seconds(Double(draws.below(6)))
            // The timers due by then fire first, each at its time.
            while let k = pending.indices.min(by: { pending[$0] < pending[$1] }), pending[k] <= now {
                h.now = pending.remove(at: k)
                take(h.send(.timerFired(.liveness)))
            }
            h.now = now
            for e in 0..<n {
                if let last = heard[e] { #expect(last + timeout > now, "seed \(seed): executor \(e) overdue at \(now)") }
                let state = h.plane.executors.state(of: ExecutorID(e))
                #expect((state == .online || state == .draining) == (heard[e] != nil), "seed \(seed): executor \(e) is \(state)")
            }
            let e = draws.below(n)
            let id = ExecutorID(e)
            switch draws.below(20) {
            case 0..<8:
                if clockGoesBack && heard[e] != nil && draws.chance(0.5) {
                    // Stamped up to 5 s in the past, but no earlier than its last word.
                    h.now = max(heard[e]!, now - .seconds(Double(draws.below(6))))
                    backSteps += 1
                }
                let before = h.plane.executors.state(of: id)
                let hadWork = !h.plane.executors.tasks(on: id).isEmpty
                let fx = h.send(.executorHeartbeat(id))
                take(fx)
                if heard[e] != nil {
                    heard[e] = stamp(h.now)
                } else if before == .lost && hadWork {  // back within its lease
                    heard[e] = stamp(h.now)
                    recoveries += 1
                }
                h.now = now
            case 8..<11:
                h.register(e, slots: 2)
                take(h.effects.list)
                heard[e] = stamp(now)
            case 11:
                if h.plane.executors.state(of: id) == .online { heard[e] = stamp(now) }
                take(h.send(.executorDraining(id)))
            case 12:
                take(h.send(.executorLeft(id)))
                heard[e] = nil
            case 13..<17:
                take(h.send(.taskSubmitted(TaskSpec(id: TaskID(tasks), agent: AgentID(0)))))
                tasks += 1
            default:
                break
            }
        }
        #expect(losses >= 10, "seed \(seed): only \(losses) losses")
        if leases { #expect(recoveries >= 1, "seed \(seed): no recovery") }
        if clockGoesBack { #expect(backSteps >= 3, "seed \(seed): only \(backSteps) words stamped in the past") }
    }
}
