import HoneycombCore
import HoneycombStats

/// A model of the scenario's catalog with the field it was defined in.
struct NamedModel {
    var model: LLMModel
    var id: ModelID
}

extension ScenarioReader {
    /// `models:`: the catalog. A fallback names another model of lower tier.
    func modelList(_ f: YAMLField?) throws -> [NamedModel] {
        guard let f else { return [] }
        let fields = try f.list()
        var out: [NamedModel] = []
        var fallbacks: [(Int, YAMLField)] = []
        for (i, field) in fields.enumerated() {
            let m = try field.mapping(allowed: ["name", "tier", "contextWindow", "fallback"])
            let name = try m.required("name").string()
            if out.contains(where: { $0.model.name == name }) { throw try m.required("name").error("'\(name)' is defined twice") }
            out.append(NamedModel(model: LLMModel(name: name, tier: try m.optional("tier")?.int(min: 0, max: 1000) ?? 1,
                                                  contextWindow: try m.optional("contextWindow")?.int(min: 1, max: 10_000_000) ?? 8192),
                                  id: ModelID(i)))
            if let fb = m.optional("fallback") { fallbacks.append((i, fb)) }
        }
        for (i, fb) in fallbacks {
            let target = try model(fb, out)
            guard out[target.index].model.tier < out[i].model.tier else {
                throw fb.error("a fallback must be a smaller model (lower tier) than '\(out[i].model.name)'")
            }
            out[i].model.fallback = target
        }
        return out
    }

    func model(_ f: YAMLField, _ models: [NamedModel]) throws -> ModelID {
        let name = try f.string()
        guard let m = models.first(where: { $0.model.name == name }) else {
            let known = models.map(\.model.name)
            throw f.error(known.isEmpty ? "no model named '\(name)': declare it under a top-level 'models' list"
                                        : "no model named '\(name)'; models are: \(known.joined(separator: ", "))")
        }
        return m.id
    }

    /// `cloud:`: providers as the router sees them, and as the world behaves.
    func cloudList(_ f: YAMLField?, models: [NamedModel]) throws -> ([CloudProvider], [Scenario.Cloud]) {
        var providers: [CloudProvider] = []
        var clouds: [Scenario.Cloud] = []
        for field in try f?.list() ?? [] {
            let m = try field.mapping(allowed: ["provider", "models", "latency", "tokensPerSecond", "costPerMillionTokens",
                                                "limits", "budget", "failure"])
            let name = try m.required("provider").string()
            if providers.contains(where: { $0.name == name }) { throw try m.required("provider").error("'\(name)' is defined twice") }
            let served = try m.required("models").list().map { try model($0, models) }
            let price = try m.required("costPerMillionTokens").mapping(allowed: ["input", "output"])
            let limits = try m.optional("limits")?.mapping(allowed: ["rpm", "tpm"])
            let latency = try m.optional("latency")?.durationDistribution() ?? .lognormal(median: 0.4, sigma: 0.5)
            let tps = try m.optional("tokensPerSecond")?.double(min: 1e-3, max: 1e6) ?? 80
            providers.append(CloudProvider(
                name: name, models: served,
                inputPricePerMillion: try price.required("input").double(min: 0, max: 1e6),
                outputPricePerMillion: try price.required("output").double(min: 0, max: 1e6),
                requestsPerMinute: try limits?.optional("rpm")?.int(min: 1, max: 100_000_000),
                tokensPerMinute: try limits?.optional("tpm")?.int(min: 1, max: 1_000_000_000_000),
                timeToFirstToken: .seconds(latency.mean), tokensPerSecond: tps,
                budgetMicroUSD: try m.optional("budget").map { Int64((try $0.double(min: 0, max: 1e9) * 1e6).rounded()) }))
            clouds.append(Scenario.Cloud(timeToFirstToken: latency, tokensPerSecond: tps,
                                         failure: try m.optional("failure")?.probability() ?? 0))
        }
        return (providers, clouds)
    }

    /// `executors[i].llm`: the models a pool serves itself.
    func poolLLM(_ f: YAMLField, models: [NamedModel]) throws -> Scenario.PoolLLM {
        let m = try f.mapping(allowed: ["models", "slots", "queue", "tokensPerSecond", "loadTime", "batchSlowdown"])
        let served = try m.required("models").list().map { try model($0, models) }
        guard !served.isEmpty else { throw try m.required("models").error("expected at least one model") }
        return Scenario.PoolLLM(models: served, slots: try m.optional("slots")?.int(min: 1, max: 10_000) ?? 1,
                                queue: try m.optional("queue")?.int(min: 0, max: 1_000_000) ?? 0,
                                tokensPerSecond: try m.required("tokensPerSecond").double(min: 1e-3, max: 1e6),
                                loadTime: .seconds(try m.optional("loadTime")?.seconds() ?? 0),
                                batchSlowdown: try m.optional("batchSlowdown")?.double(min: 0, max: 10) ?? 0)
    }

    /// `agents[i].llm`: the calls a task makes.
    func agentLLM(_ f: YAMLField, models: [NamedModel]) throws -> Scenario.AgentLLM {
        let m = try f.mapping(allowed: ["model", "calls", "promptTokens", "completionTokens", "maxCompletionTokens", "slo",
                                        "privacy", "fallback"])
        let completion = try m.required("completionTokens").countDistribution()
        let privacy = try m.optional("privacy")?.string() ?? "any"
        guard ["any", "local-only"].contains(privacy) else {
            throw try m.required("privacy").error("expected 'any' or 'local-only', got '\(privacy)'")
        }
        let fallback = try m.optional("fallback")?.string() ?? "none"
        guard ["none", "smaller"].contains(fallback) else {
            throw try m.required("fallback").error("expected 'none' or 'smaller', got '\(fallback)'")
        }
        return Scenario.AgentLLM(
            model: try model(m.required("model"), models),
            calls: try m.optional("calls")?.int(min: 1, max: 1000) ?? 1,
            promptTokens: try m.required("promptTokens").countDistribution(),
            completionTokens: completion,
            maxCompletionTokens: try m.optional("maxCompletionTokens")?.int(min: 1, max: 10_000_000)
                ?? Int((completion.mean * 4).rounded(.up)),
            latencyTarget: .seconds(try m.required("slo").seconds(allowZero: false)),
            localOnly: privacy == "local-only", allowSmallerModel: fallback == "smaller")
    }

    /// Every model an agent calls is served somewhere it may go.
    func checkModelsServed(_ agents: [Scenario.Agent], pools: [Scenario.Pool], providers: [CloudProvider],
                           fields: [YAMLField], models: [NamedModel]) throws {
        for (a, field) in zip(agents, fields) {
            guard let llm = a.llm else { continue }
            let local = pools.contains { $0.llm?.models.contains(llm.model) ?? false }
            let cloud = providers.contains { $0.models.contains(llm.model) }
            if local || (cloud && !llm.localOnly) { continue }
            let name = models[llm.model.index].model.name
            throw try field.mapping(allowed: allKeys(field)).required("llm").error(llm.localOnly
                ? "agent '\(a.definition.name)' calls '\(name)' locally only, and no pool serves it"
                : "no pool and no cloud serves '\(name)', which agent '\(a.definition.name)' calls")
        }
    }

    /// `policy.router`: strategy and settings, with the catalog, clouds and budgets.
    func routerConfig(_ policy: YAMLField?, models: [LLMModel], providers: [CloudProvider],
                      budgets: [Int64?]) throws -> LLMRouterConfig {
        var c = LLMRouterConfig(models: models, providers: providers, tenantBudgetsMicroUSD: budgets)
        guard let policy, let rf = try policy.mapping(allowed: allKeys(policy)).optional("router") else { return c }
        let r = try rf.mapping(allowed: ["strategy", "peerCandidates", "cooldown", "failuresBeforeCooldown", "peerDelay",
                                         "targetShare"])
        if let t = r.optional("targetShare") { c.targetShare = try t.double(min: 0.01, max: 1) }
        if let s = r.optional("strategy") {
            switch try s.string() {
            case "local-first": c.localFirst = true
            case "cloud-only": c.localFirst = false
            default: throw s.error("expected 'local-first' or 'cloud-only', got \(s.shown)")
            }
        }
        if let p = r.optional("peerCandidates") { c.peerCandidates = try p.int(min: 1, max: 10_000) }
        if let p = r.optional("cooldown") { c.cooldown = .seconds(try p.seconds()) }
        if let p = r.optional("failuresBeforeCooldown") { c.failuresBeforeCooldown = try p.int(min: 1, max: 1000) }
        if let d = r.optional("peerDelay") {
            let m = try d.mapping(allowed: ["site", "region"])
            if let s = m.optional("site") { c.peerDelaySameSite = .seconds(try s.seconds()) }
            if let s = m.optional("region") { c.peerDelaySameRegion = .seconds(try s.seconds()) }
        }
        return c
    }
}
