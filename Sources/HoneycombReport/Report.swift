import HoneycombStats

/// Which way a metric should move for the change to count as better.
public enum Direction: String, Hashable, Sendable, Codable {
    case lowerIsBetter = "lower"
    case higherIsBetter = "higher"
    /// Descriptive only (counts of events, say): neither way is a regression.
    case neutral
}

/// A metric's stable identity: its dotted name, unit and direction.
public struct MetricDefinition: Hashable, Sendable {
    /// Dotted and stable across versions: `task.wait.p99`.
    public var name: String
    /// `s`, `count`, `ratio`, `executors`, `usd`, ...
    public var unit: String
    public var direction: Direction
    public init(_ name: String, unit: String, _ direction: Direction) {
        self.name = name
        self.unit = unit
        self.direction = direction
    }
}

/// One metric across replications: every replication's value and the summary across them.
public struct MetricResult: Hashable, Sendable {
    public var definition: MetricDefinition
    /// One value per replication, in replication order (NaN where a replication had no data).
    public var values: [Double]
    /// The mean and 95 % t-interval of the finite values.
    public var interval: MeanInterval
    public var standardDeviation: Double
    public var min: Double
    public var max: Double

    public init(_ definition: MetricDefinition, values: [Double]) {
        self.definition = definition
        self.values = values
        let finite = values.filter(\.isFinite)
        interval = MeanInterval(values: finite)
        standardDeviation = Statistics.standardDeviation(finite)
        self.min = finite.min() ?? .nan
        self.max = finite.max() ?? .nan
    }
}

/// What a report says about the run it came from.
public struct RunDescription: Hashable, Sendable {
    public var scenario: String
    /// FNV-1a of the scenario file's bytes, so that `compare` can tell reports of different files apart.
    public var scenarioFingerprint: String
    public var seed: UInt64
    public var replicationSeeds: [UInt64]
    public var durationSeconds: Double
    public var warmupSeconds: Double
    /// Set when replications were added until a precision target was met (or the cap hit).
    public var precision: PrecisionOutcome?
    /// How the warm-up was chosen, when it was chosen from the data.
    public var warmupNote: String?

    public init(scenario: String, scenarioFingerprint: String, seed: UInt64, replicationSeeds: [UInt64],
                durationSeconds: Double, warmupSeconds: Double) {
        self.scenario = scenario
        self.scenarioFingerprint = scenarioFingerprint
        self.seed = seed
        self.replicationSeeds = replicationSeeds
        self.durationSeconds = durationSeconds
        self.warmupSeconds = warmupSeconds
    }
}

/// What `--precision` achieved.
public struct PrecisionOutcome: Hashable, Sendable {
    /// The largest allowed 95 % half-width, as a fraction of the mean.
    public var target: Double
    /// The metrics held to it.
    public var metrics: [String]
    /// Whether all met it (false: the replication cap came first).
    public var met: Bool
    public var cap: Int
    public init(target: Double, metrics: [String], met: Bool, cap: Int) {
        self.target = target
        self.metrics = metrics
        self.met = met
        self.cap = cap
    }
}

/// A simulation report: the deterministic result of a scenario, seed and build.
///
/// Nothing measured on the wall clock belongs here; see `RuntimeFigures`.
public struct Report: Hashable, Sendable {
    public static let schema = "honeycomb.report/1"
    public var run: RunDescription
    /// Sorted by metric name.
    public var metrics: [MetricResult]

    public init(run: RunDescription, metrics: [MetricResult]) {
        self.run = run
        self.metrics = metrics.sorted { $0.definition.name < $1.definition.name }
    }

    /// The metric named `name`, if the report has it.
    public subscript(name: String) -> MetricResult? { metrics.first { $0.definition.name == name } }

    /// The report as canonical JSON (`report.json`).
    public func json() -> JSONValue {
        var metricFields: [String: JSONValue] = [:]
        for m in metrics {
            metricFields[m.definition.name] = .object([
                "unit": .string(m.definition.unit),
                "direction": .string(m.definition.direction.rawValue),
                "values": .array(m.values.map(JSONValue.number)),
                "mean": .number(m.interval.mean),
                "ci95": .object([
                    "low": .number(m.interval.low),
                    "high": .number(m.interval.high),
                    "halfWidth": .number(m.interval.halfWidth),
                ]),
                "stddev": .number(m.standardDeviation),
                "min": .number(m.min),
                "max": .number(m.max),
            ])
        }
        var top: [String: JSONValue] = [
            "schema": .string(Report.schema),
            "scenario": .object([
                "name": .string(run.scenario),
                "fingerprint": .string(run.scenarioFingerprint),
                "seed": .string(String(run.seed)),
                "replications": .number(Double(run.replicationSeeds.count)),
                "replicationSeeds": .array(run.replicationSeeds.map { .string(String($0)) }),
                "durationSeconds": .number(run.durationSeconds),
                "warmupSeconds": .number(run.warmupSeconds),
            ]),
            "metrics": .object(metricFields),
        ]
        if let p = run.precision {
            top["precision"] = .object(["target": .number(p.target), "metrics": .array(p.metrics.map(JSONValue.string)),
                                        "met": .bool(p.met), "cap": .number(Double(p.cap))])
        }
        if let note = run.warmupNote { top["warmupNote"] = .string(note) }
        return .object(top)
    }
}

/// Wall-clock figures of a run: how long it took, not what it found. Kept out of
/// `report.json` so that the report stays byte-identical across runs.
public struct RuntimeFigures: Hashable, Sendable {
    public var wallSeconds: Double
    public var events: Int
    /// Placement decisions the control plane made.
    public var decisions: Int
    public var peakResidentBytes: Int
    public var eventsPerSecond: Double { wallSeconds > 0 ? Double(events) / wallSeconds : 0 }
    /// `placement.decisions_per_second`: decisions over the whole run's wall time.
    public var decisionsPerSecond: Double { wallSeconds > 0 ? Double(decisions) / wallSeconds : 0 }

    public init(wallSeconds: Double, events: Int, decisions: Int = 0, peakResidentBytes: Int) {
        self.wallSeconds = wallSeconds
        self.events = events
        self.decisions = decisions
        self.peakResidentBytes = peakResidentBytes
    }

    public func json() -> JSONValue {
        .object([
            "wallSeconds": .number(wallSeconds),
            "events": .number(Double(events)),
            "eventsPerSecond": .number(eventsPerSecond.rounded()),
            "placement.decisions": .number(Double(decisions)),
            "placement.decisions_per_second": .number(decisionsPerSecond.rounded()),
            "peakResidentBytes": .number(Double(peakResidentBytes)),
        ])
    }
}
