import HoneycombAPI

// What the API answers with, where it is more than a few fields.

struct TaskView: Codable {
    var id: Int64
    var agent: String
    var version: String
    var user: String
    var state: String
    var attempt: Int
    var executor: Int64?
    var priority: Int
    var latencyTargetMs: Int?
    var submittedAt: String
    var updatedAt: String
    var input: JSONValue?
    var history: [HistoryView]?
    var result: ResultView?
}

struct HistoryView: Codable {
    var state: String
    var attempt: Int
    var executor: Int64?
    var at: String
}

struct ResultView: Codable {
    var attempt: Int
    var succeeded: Bool
    var output: JSONValue?
    var reportedAt: String
}

/// An agent of the marketplace with its versions.
struct AgentListing: Encodable {
    var name: String
    var description: String
    var versions: [Version]

    struct Version: Encodable {
        var version, sha256, publishedAt: String
        var bundleBytes, cpuMillis, memoryBytes: Int64
    }
}
