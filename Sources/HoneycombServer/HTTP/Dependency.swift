import HoneycombLive

/// The service's four dependencies, as an operator names them in answers, `/readyz` and metrics.
enum Dependency: String, CaseIterable, Sendable {
    case postgres = "PostgreSQL"
    case redis = "Redis"
    case nats = "NATS JetStream"
    case s3 = "S3"

    /// What the service keeps there, for messages.
    var role: String {
        switch self {
        case .postgres: "the state store"
        case .redis: "the presence cache"
        case .nats: "task dispatch"
        case .s3: "bundle storage"
        }
    }

    /// The label in metrics (`honeycomb_dependency_up{dependency="postgres"}`).
    var label: String {
        switch self {
        case .postgres: "postgres"
        case .redis: "redis"
        case .nats: "nats"
        case .s3: "s3"
        }
    }

    /// The dependency whose absence the error is, if it is one.
    static func away(in error: Error) -> Dependency? {
        switch error {
        case let d as DependencyFailure: d.dependency
        case let e as PostgresError where Dependency.postgres.isOutage(e): .postgres
        case is RedisError: .redis
        case is NatsError: .nats
        case let e as S3Error where e.status == 0 || e.status >= 500: .s3
        default: nil
        }
    }

    /// True when a PostgreSQL error means the server is away (no connection, or it is
    /// shutting down, SQLSTATE classes 08 and 57), not that a statement was wrong.
    func isOutage(_ e: PostgresError) -> Bool {
        guard let state = e.sqlState else { return true }
        return state.hasPrefix("08") || state.hasPrefix("57")
    }
}

/// A dependency the request needed did not answer.
struct DependencyFailure: Error, CustomStringConvertible {
    var dependency: Dependency
    var underlying: Error
    var description: String { "\(dependency.rawValue): \(underlying)" }
}
