import Foundation
import HoneycombCore
import HoneycombStats
import Yams

extension Scenario {
    /// Reads and checks a scenario file. Throws `ScenarioError` saying file, line, column,
    /// field and what was expected; never returns a half-read scenario.
    public static func load(path: String, overrides: [ScenarioOverride] = []) throws -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(file: path, line: 0, column: 0, path: "", message: "cannot read the file (does it exist?)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ScenarioError(file: path, line: 0, column: 0, path: "", message: "the file is not UTF-8 text")
        }
        return try parse(text, file: path, overrides: overrides)
    }

    /// Parses scenario text; `file` names it in errors. `overrides` change fields before the
    /// checks run, so an override is checked like the file.
    public static func parse(_ text: String, file: String = "<scenario>",
                             overrides: [ScenarioOverride] = []) throws -> Scenario {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ScenarioError(file: file, line: 0, column: 0, path: "", message: "the file is empty")
            }
            root = node
        } catch let e as YamlError {
            throw syntaxError(e, file: file)
        }
        let changed = try apply(overrides, to: root, file: file)
        // The fingerprint covers the overrides: a report says exactly what ran.
        let fingerprinted = overrides.isEmpty ? text : text + "\n# --set " + overrides.map(\.description).joined(separator: " --set ")
        return try ScenarioReader(file: file, text: fingerprinted).read(YAMLField(node: changed, path: "", file: file))
    }

    private static func syntaxError(_ e: YamlError, file: String) -> ScenarioError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
             .composer(_, let problem, let mark, _):
            return ScenarioError(file: file, line: mark.line, column: mark.column, path: "",
                                 message: "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ScenarioError(file: file, line: context.mark.line, column: context.mark.column, path: "",
                                 message: "key '\(duplicates.joined(separator: "', '"))' appears twice in one mapping")
        default:
            return ScenarioError(file: file, line: 0, column: 0, path: "", message: "YAML: \(e)")
        }
    }
}

/// Turns a checked YAML tree into a `Scenario`, one section at a time.
struct ScenarioReader {
    let file: String
    let text: String

    func read(_ root: YAMLField) throws -> Scenario {
        let top = try root.mapping(allowed: ["name", "description", "seed", "replications", "duration", "warmup",
                                             "tenants", "executors", "agents", "workload", "events", "policy", "network",
                                             "sampleEvery", "models", "cloud"])
        let duration = try top.required("duration").seconds(allowZero: false)
        if duration > 10 * 365 * 86400 { throw try top.required("duration").error("expected a run of at most 10 years") }
        // `warmup: auto`: chosen by MSER-5 from a pilot replication.
        let autoWarmup = top.optional("warmup").map { (try? $0.string()) == "auto" } ?? false
        let warmup = autoWarmup ? 0 : try top.optional("warmup")?.seconds() ?? 0
        if warmup >= duration { throw try top.required("warmup").error("expected a warm-up shorter than the duration") }

        let (tenants, budgets) = try tenantList(top.optional("tenants"))
        let tenantNames = tenants.map(\.name)
        let models = try modelList(top.optional("models"))
        let (providers, clouds) = try cloudList(top.optional("cloud"), models: models)
        let pools = try top.required("executors").list().map { try pool($0, tenants: tenantNames, models: models) }
        guard !pools.isEmpty else { throw try top.required("executors").error("expected at least one executor pool") }
        try unique(pools.map(\.name), in: try top.required("executors").list(), key: "pool")
        let agents = try top.required("agents").list().map { try agent($0, models: models) }
        guard !agents.isEmpty else { throw try top.required("agents").error("expected at least one agent") }
        try unique(agents.map(\.definition.name), in: try top.required("agents").list(), key: "name")
        let agentNames = agents.map(\.definition.name)
        for (field, a) in zip(try top.required("agents").list(), agents) {
            for (key, names) in [("affinity", a.definition.affinity), ("antiAffinity", a.definition.antiAffinity)] {
                for n in names where !agentNames.contains(n) {
                    throw try field.mapping(allowed: allKeys(field)).required(key)
                        .error("no agent named '\(n)'; agents are: \(agentNames.joined(separator: ", "))")
                }
            }
        }
        for (field, a) in zip(try top.required("agents").list(), agents) {
            try checkSomePoolFits(a, pools: pools, field: field)
        }
        let workloadFields = try top.optional("workload")?.list() ?? []
        let workloads = try workloadFields.map { try workload($0, agents: agentNames, tenants: tenantNames) }
        for (i, w) in workloads.enumerated() where workloads[..<i].contains(where: { $0.name == w.name }) {
            throw workloadFields[i].error(
                "two workloads are named '\(w.name)'; give each a distinct 'name' so that events can tell them apart")
        }
        try checkModelsServed(agents, pools: pools, providers: providers, fields: try top.required("agents").list(),
                              models: models)
        let events = try (top.optional("events")?.list() ?? []).map {
            try event($0, pools: pools.map(\.name), workloads: workloads, providers: providers.map(\.name))
        }
        try checkTaskVolume(workloads, events: events, duration: duration, field: top.optional("workload") ?? root)
        for (field, e) in zip(try top.optional("events")?.list() ?? [], events) where e.at.seconds >= duration {
            throw field.error("event at \(e.at) is not before the end of the run (\(TimeSpan.seconds(duration)))")
        }

        return Scenario(
            name: try top.required("name").string(),
            description: try top.optional("description")?.string() ?? "",
            seed: UInt64(try top.optional("seed")?.int(min: 0) ?? 1),
            replications: try top.optional("replications")?.int(min: 1, max: 10_000) ?? 1,
            duration: .seconds(duration),
            warmup: .seconds(warmup),
            autoWarmup: autoWarmup,
            pools: pools,
            agents: agents,
            workloads: workloads,
            events: events.sorted { $0.at < $1.at },
            policy: try policy(top.optional("policy"), tenants: tenants),
            network: try network(top.optional("network")),
            sampleEvery: .seconds(try top.optional("sampleEvery")?.seconds(allowZero: false) ?? 60),
            llm: models.isEmpty ? nil : Scenario.LLM(
                router: try routerConfig(top.optional("policy"), models: models.map(\.model), providers: providers,
                                         budgets: budgets),
                clouds: clouds),
            fingerprint: String(SeedDerivation.fnv1a(text), radix: 16)
        )
    }

    private func unique(_ names: [String], in fields: [YAMLField], key: String) throws {
        for (i, name) in names.enumerated() where names[..<i].contains(name) {
            throw try fields[i].mapping(allowed: [key] + allKeys(fields[i])).required(key)
                .error("'\(name)' is defined twice")
        }
    }

    func allKeys(_ f: YAMLField) -> [String] {
        guard case .mapping(let m) = f.node else { return [] }
        return m.compactMap { $0.key.string }
    }

    /// The tenants: the built-in `shared` first, then the file's in order; and their LLM
    /// budgets in micro-dollars.
    private func tenantList(_ f: YAMLField?) throws -> ([TenantPolicy], [Int64?]) {
        var out = [TenantPolicy(name: "shared")]
        var budgets: [Int64?] = [nil]
        for t in try f?.list() ?? [] {
            let m = try t.mapping(allowed: ["name", "weight", "site", "region", "budget"])
            budgets.append(try m.optional("budget").map { Int64((try $0.double(min: 0, max: 1e9) * 1e6).rounded()) })
            let name = try m.required("name").string()
            if out.contains(where: { $0.name == name }) {
                throw try m.required("name").error(name == "shared"
                    ? "'shared' is the built-in tenant of tasks and executors that name none"
                    : "'\(name)' is defined twice")
            }
            out.append(TenantPolicy(name: name, weight: try m.optional("weight")?.double(min: 1e-6, max: 1e6) ?? 1,
                                    site: try m.optional("site")?.string(), region: try m.optional("region")?.string()))
        }
        return (out, budgets)
    }

    private func tenant(_ f: YAMLField?, _ tenants: [String]) throws -> TenantID {
        guard let f else { return .shared }
        let name = try f.string()
        guard let i = tenants.firstIndex(of: name) else {
            throw f.error("no tenant named '\(name)'; tenants are: \(tenants.joined(separator: ", "))")
        }
        return TenantID(i)
    }

    /// Label conditions: `value` (equal), `[a, b]` (one of), `"*"` (present), `"!=value"`,
    /// and version comparisons `">=2.1"`, `">2"`, `"<=3"`, `"<3"`.
    private func selector(_ f: YAMLField?) throws -> LabelSelector {
        guard let f else { return LabelSelector() }
        guard case .mapping(let m) = f.node else { throw f.error("expected a mapping of label names to conditions") }
        var out: [(String, LabelCondition)] = []
        for (k, v) in m {
            let key = try YAMLField(node: k, path: f.path, file: file).string()
            let field = f.child(key, v)
            if case .sequence = v {
                let values = try field.list().map { try $0.string() }
                guard !values.isEmpty else { throw field.error("expected at least one value") }
                out.append((key, .oneOf(values)))
                continue
            }
            let text = try field.string()
            if text == "*" { out.append((key, .exists)); continue }
            if text.hasPrefix("!=") { out.append((key, .notEquals(String(text.dropFirst(2))))); continue }
            var matched = false
            for op in [LabelCondition.VersionComparison.atLeast, .atMost, .greater, .less] where text.hasPrefix(op.rawValue) {
                let version = String(text.dropFirst(op.rawValue.count)).trimmingWhitespace()
                guard !version.isEmpty else { throw field.error("expected a version after \(op.rawValue)") }
                out.append((key, .version(op, version)))
                matched = true
                break
            }
            if !matched { out.append((key, .equals(text))) }
        }
        return LabelSelector(out)
    }

    private func labels(_ f: YAMLField?) throws -> LabelSet {
        guard let f else { return LabelSet() }
        guard case .mapping(let m) = f.node else { throw f.error("expected a mapping of label names to values") }
        var out: [Label] = []
        for (k, v) in m {
            let key = try YAMLField(node: k, path: f.path, file: file).string()
            out.append(Label(key, try f.child(key, v).string()))
        }
        return LabelSet(out)
    }

    private func pool(_ f: YAMLField, tenants: [String], models: [NamedModel]) throws -> Scenario.Pool {
        let m = try f.mapping(allowed: ["pool", "count", "labels", "resources", "churn", "owner", "exclusive", "llm"])
        let owner = try tenant(m.optional("owner"), tenants)
        let exclusive = try m.optional("exclusive")?.bool() ?? false
        if exclusive && owner == .shared { throw try m.required("exclusive").error("an exclusive pool needs an 'owner'") }
        let r = try m.required("resources").mapping(allowed: ["cpu", "memory", "slots"])
        let slots = try r.optional("slots")?.int(min: 1, max: 1_000_000) ?? 1
        var churn: Scenario.Churn?
        if let c = m.optional("churn") {
            let cm = try c.mapping(allowed: ["uptime", "downtime", "crash"])
            churn = Scenario.Churn(uptime: try cm.required("uptime").positiveDurationDistribution(),
                                   downtime: try cm.required("downtime").positiveDurationDistribution(),
                                   crash: try cm.optional("crash")?.probability() ?? 0)
        }
        return Scenario.Pool(
            name: try m.required("pool").string(),
            count: try m.required("count").int(min: 0, max: 10_000_000),
            labels: try labels(m.optional("labels")),
            resources: Resources(cpuMillis: try r.optional("cpu")?.millicores() ?? 0,
                                 memoryBytes: try r.optional("memory")?.bytes() ?? 0,
                                 slots: Int64(slots)),
            churn: churn, owner: owner, exclusive: exclusive, llm: try m.optional("llm").map { try poolLLM($0, models: models) })
    }

    private func agent(_ f: YAMLField, models: [NamedModel]) throws -> Scenario.Agent {
        let m = try f.mapping(allowed: ["name", "version", "requires", "runtime", "failure", "maxAttempts",
                                        "affinity", "antiAffinity", "llm"])
        var needs = Resources(cpuMillis: 0, memoryBytes: 0, slots: 1)
        var required = LabelSelector()
        if let rf = m.optional("requires") {
            let r = try rf.mapping(allowed: ["cpu", "memory", "labels"])
            needs.cpuMillis = try r.optional("cpu")?.millicores() ?? 0
            needs.memoryBytes = try r.optional("memory")?.bytes() ?? 0
            required = try selector(r.optional("labels"))
        }
        return Scenario.Agent(
            definition: AgentDefinition(name: try m.required("name").string(),
                                        version: try m.optional("version")?.string() ?? "1",
                                        requires: needs, selector: required,
                                        affinity: try m.optional("affinity")?.list().map { try $0.string() } ?? [],
                                        antiAffinity: try m.optional("antiAffinity")?.list().map { try $0.string() } ?? [],
                                        maxAttempts: try m.optional("maxAttempts")?.int(min: 1, max: 100) ?? 3),
            runtime: try m.required("runtime").durationDistribution(),
            failure: try m.optional("failure")?.probability() ?? 0,
            llm: try m.optional("llm").map { try agentLLM($0, models: models) })
    }

    /// Refuses an agent that no pool could ever run: every one of its tasks would wait forever.
    private func checkSomePoolFits(_ a: Scenario.Agent, pools: [Scenario.Pool], field: YAMLField) throws {
        let needs = a.definition.requires
        let fits = pools.contains { needs.fits(in: $0.resources) && $0.labels.satisfies(a.definition.selector) }
        guard !fits else { return }
        var need = "cpu \(Double(needs.cpuMillis) / 1000), memory \(needs.memoryBytes) bytes"
        if !a.definition.selector.isEmpty { need += ", labels \(a.definition.selector)" }
        let place = (try? field.mapping(allowed: allKeys(field)))?.optional("requires") ?? field
        throw place.error("no executor pool can run agent '\(a.definition.name)' (it needs \(need))")
    }

    /// Refuses a load that could not be simulated: more than 2^31 − 1 tasks in one replication.
    private func checkTaskVolume(_ workloads: [Scenario.Workload], events: [Scenario.TimedEvent],
                                 duration: Double, field: YAMLField) throws {
        var worst = 0.0
        for (w, workload) in workloads.enumerated() {
            var scale = 1.0
            for e in events { if case .scaleRate(w, let s) = e.action { scale = max(scale, s) } }
            worst += workload.arrivals.meanRate * scale * duration
        }
        if worst > 2e9 {
            throw field.error("expected at most 2,000,000,000 tasks per replication; these rates over \(TimeSpan.seconds(duration)) "
                              + "come to about \(Int(worst.rounded()))")
        }
    }

    private func workload(_ f: YAMLField, agents: [String], tenants: [String]) throws -> Scenario.Workload {
        let m = try f.mapping(allowed: ["name", "agent", "arrivals", "tenant", "priority"])
        let af = try m.required("agent")
        let name = try af.string()
        guard let agent = agents.firstIndex(of: name) else {
            throw af.error("no agent named '\(name)'; agents are: \(agents.joined(separator: ", "))")
        }
        return Scenario.Workload(name: try m.optional("name")?.string() ?? name, agent: agent,
                                 arrivals: try arrivals(m.required("arrivals")),
                                 tenant: try tenant(m.optional("tenant"), tenants),
                                 priority: Int8(try m.optional("priority")?.int(min: -100, max: 100) ?? 0))
    }

    private func arrivals(_ f: YAMLField) throws -> Scenario.ArrivalProcess {
        let kinds = ["poisson", "constant", "bursts", "diurnal"]
        let m = try f.mapping(allowed: kinds)
        guard m.entries.count == 1, let (kind, p) = m.entries.first else {
            throw f.error("expected exactly one arrival process, one of: \(kinds.joined(separator: ", "))")
        }
        switch kind {
        case "poisson": return .poisson(rate: try p.mapping(allowed: ["rate"]).required("rate").rate())
        case "constant": return .constant(rate: try p.mapping(allowed: ["rate"]).required("rate").rate())
        case "bursts":
            let q = try p.mapping(allowed: ["every", "size", "over"])
            let every = try q.required("every").positiveDurationDistribution()
            guard every.mean.isFinite else {
                throw try q.required("every").error("expected bursts spaced by a distribution with a finite mean, got \(every)")
            }
            return .bursts(every: every, size: try q.required("size").int(min: 1, max: 10_000_000),
                           over: try q.optional("over")?.seconds() ?? 0)
        default:
            let q = try p.mapping(allowed: ["mean", "amplitude", "period", "peak"])
            return .diurnal(mean: try q.required("mean").rate(),
                            amplitude: try q.optional("amplitude")?.double(min: 0, max: 1) ?? 0.5,
                            period: try q.optional("period")?.seconds(allowZero: false) ?? 86400,
                            peak: try q.optional("peak")?.seconds() ?? 0)
        }
    }

    private func share(_ m: YAMLMapping) throws -> Scenario.Share {
        switch (m.optional("fraction"), m.optional("count")) {
        case (let f?, nil): return .fraction(try f.probability())
        case (nil, let c?): return .count(try c.int(min: 0))
        case (_?, _?): throw m.field.error("give either fraction or count, not both")
        case (nil, nil): throw m.field.error("missing required key 'fraction' (or 'count')")
        }
    }

    private func event(_ f: YAMLField, pools: [String], workloads: [Scenario.Workload],
                       providers: [String]) throws -> Scenario.TimedEvent {
        let actions = ["add", "remove", "crash", "partition", "rate", "outage", "price"]
        let m = try f.mapping(allowed: ["at"] + actions)
        let at = try m.required("at").seconds()
        let named = actions.compactMap { a in m.optional(a).map { (a, $0) } }
        guard named.count == 1, let (kind, p) = named.first else {
            throw f.error("expected exactly one action, one of: \(actions.joined(separator: ", "))")
        }
        func poolIndex(_ q: YAMLMapping) throws -> Int {
            let pf = try q.required("pool")
            let name = try pf.string()
            guard let i = pools.firstIndex(of: name) else {
                throw pf.error("no executor pool named '\(name)'; pools are: \(pools.joined(separator: ", "))")
            }
            return i
        }
        let action: Scenario.Action
        switch kind {
        case "add":
            let q = try p.mapping(allowed: ["pool", "count"])
            action = .add(pool: try poolIndex(q), count: try q.required("count").int(min: 1, max: 10_000_000))
        case "remove":
            let q = try p.mapping(allowed: ["pool", "fraction", "count"])
            action = .remove(pool: try poolIndex(q), try share(q))
        case "crash":
            let q = try p.mapping(allowed: ["pool", "fraction", "count"])
            action = .crash(pool: try poolIndex(q), try share(q))
        case "partition":
            let q = try p.mapping(allowed: ["pool", "fraction", "count", "for"])
            action = .partition(pool: try poolIndex(q), try share(q),
                                for: .seconds(try q.required("for").seconds(allowZero: false)))
        case "outage", "price":
            let q = try p.mapping(allowed: kind == "outage" ? ["provider", "for", "retryAfter"] : ["provider", "input", "output"])
            let pf = try q.required("provider")
            let name = try pf.string()
            guard let i = providers.firstIndex(of: name) else {
                throw pf.error("no cloud provider named '\(name)'; providers are: \(providers.joined(separator: ", "))")
            }
            if kind == "outage" {
                action = .outage(provider: i, for: .seconds(try q.required("for").seconds(allowZero: false)),
                                 retryAfter: try q.optional("retryAfter").map { .seconds(try $0.seconds()) })
            } else {
                action = .price(provider: i, input: try q.required("input").double(min: 0, max: 1e6),
                                output: try q.required("output").double(min: 0, max: 1e6))
            }
        default:
            let q = try p.mapping(allowed: ["workload", "scale", "to"])
            let wf = try q.required("workload")
            let name = try wf.string()
            let names = workloads.map(\.name)
            guard let w = names.firstIndex(of: name) else {
                throw wf.error("no workload named '\(name)'; workloads are: \(names.joined(separator: ", "))")
            }
            switch (q.optional("scale"), q.optional("to")) {
            case (let s?, nil): action = .scaleRate(workload: w, scale: try s.double(min: 0, max: 1000))
            case (nil, let t?):
                let scale = try t.rate() / workloads[w].arrivals.meanRate
                guard scale <= 1000 else { throw t.error("expected at most 1000 times the workload's rate in the file") }
                action = .scaleRate(workload: w, scale: scale)
            default: throw p.error("give exactly one of 'scale' (a factor) or 'to' (a rate such as 10/s)")
            }
        }
        return Scenario.TimedEvent(at: .seconds(at), action: action)
    }

    private func policy(_ f: YAMLField?, tenants: [TenantPolicy]) throws -> Scenario.Policy {
        var plane = PlaneConfig(tenants: tenants)
        var interval = TimeSpan.seconds(10)
        guard let f else { return Scenario.Policy(plane: plane, heartbeatInterval: interval) }
        let m = try f.mapping(allowed: ["scheduler", "heartbeat", "retry", "lease", "router"])
        if let sf = m.optional("scheduler") { plane.scheduler = try scheduler(sf) }
        if let lf = m.optional("lease") { plane.lease = .seconds(try lf.seconds()) }
        if let hf = m.optional("heartbeat") {
            let h = try hf.mapping(allowed: ["interval", "timeout"])
            if let i = h.optional("interval") { interval = .seconds(try i.seconds(allowZero: false)) }
            if let t = h.optional("timeout") { plane.heartbeatTimeout = .seconds(try t.seconds(allowZero: false)) }
            if plane.heartbeatTimeout <= interval {
                throw (h.optional("timeout") ?? hf).error(
                    "expected the heartbeat timeout (\(plane.heartbeatTimeout)) to exceed the interval (\(interval))")
            }
        }
        if let rf = m.optional("retry") {
            let r = try rf.mapping(allowed: ["backoff", "maxBackoff"])
            if let b = r.optional("backoff") { plane.retryBackoff = .seconds(try b.seconds()) }
            if let b = r.optional("maxBackoff") { plane.retryBackoffMax = .seconds(try b.seconds()) }
        }
        return Scenario.Policy(plane: plane, heartbeatInterval: interval)
    }

    private func scheduler(_ f: YAMLField) throws -> SchedulerPolicy {
        var p = SchedulerPolicy()
        let s = try f.mapping(allowed: ["score", "candidates", "spread", "reliability", "preemption", "rebalance"])
        if let scf = s.optional("score") {
            let sc = try scf.mapping(allowed: ["binpack", "leastLoaded", "spread", "locality", "reliability"])
            p.binpack = try sc.optional("binpack")?.double(min: 0, max: 1000) ?? 0
            p.leastLoaded = try sc.optional("leastLoaded")?.double(min: 0, max: 1000) ?? 0
            p.spread = try sc.optional("spread")?.double(min: 0, max: 1000) ?? 0
            p.locality = try sc.optional("locality")?.double(min: 0, max: 1000) ?? 0
            p.reliability = try sc.optional("reliability")?.double(min: 0, max: 1000) ?? 0
            if p.spread > 0 && s.optional("spread") == nil {
                throw try sc.required("spread").error("a spread weight needs a 'spread' block naming the label to spread over")
            }
        }
        if let spf = s.optional("spread") {
            let sp = try spf.mapping(allowed: ["label", "targets"])
            var targets: [String: Double] = [:]
            if let tf = sp.optional("targets") {
                guard case .mapping(let tm) = tf.node else { throw tf.error("expected a mapping of label values to shares") }
                for (k, v) in tm {
                    let key = try YAMLField(node: k, path: tf.path, file: file).string()
                    targets[key] = try tf.child(key, v).probability()
                }
                // Summed in key order: the same file gives the same float every time.
                let total = targets.keys.sorted().reduce(0.0) { $0 + targets[$1]! }
                if total > 1 + 1e-9 { throw tf.error("expected shares adding up to at most 1, got \(total)") }
            }
            p.spreadPolicy = .init(label: try sp.required("label").string(), targets: targets)
        }
        if let rf = s.optional("reliability") {
            let r = try rf.mapping(allowed: ["halfLife"])
            p.reliabilityHalfLife = .seconds(try r.required("halfLife").seconds(allowZero: false))
        }
        if let pf = s.optional("preemption") { p.preemption = try pf.bool() }
        if let rf = s.optional("rebalance") {
            p.rebalanceMoves = try rf.mapping(allowed: ["maxMoves"]).required("maxMoves").int(min: 0, max: 1000)
        }
        if let cf = s.optional("candidates") {
            let text = try cf.string()
            switch text {
            case "all": p.candidates = .all
            case "adaptive": p.candidates = .adaptive
            case "powerOfTwo": p.candidates = .powerOfTwo
            case "random": p.candidates = .random
            default:
                guard let k = Int(text), k >= 1 else {
                    throw cf.error("expected all, adaptive, powerOfTwo, random or a whole number ≥ 1, got \(cf.shown)")
                }
                p.candidates = .sample(k)
            }
        }
        return p
    }

    private func network(_ f: YAMLField?) throws -> Scenario.Network {
        var net = Scenario.Network(dispatch: .constant(0.002), report: .constant(0.002))
        guard let f else { return net }
        let m = try f.mapping(allowed: ["dispatch", "report"])
        if let d = m.optional("dispatch") { net.dispatch = try d.durationDistribution() }
        if let r = m.optional("report") { net.report = try r.durationDistribution() }
        return net
    }
}
