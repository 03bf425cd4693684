import ArgumentParser
import Foundation
import HoneycombLive

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bring the PostgreSQL schema up to date (versioned migrations, each in one transaction).")

    @Option(name: .customLong("database-url"),
            help: "postgresql://user@host:port/db (default: $HONEYCOMB_DATABASE_URL).")
    var databaseURL: String?

    func run() async throws {
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["HONEYCOMB_DATABASE_URL"] else {
            throw ValidationError("give --database-url or set HONEYCOMB_DATABASE_URL")
        }
        do {
            let db = try await PostgresConnection(url: url)
            let applied = try await Migrations.apply(on: db)
            let version = try await Migrations.currentVersion(on: db)
            print(applied.isEmpty ? "schema is up to date at version \(version)"
                                  : "applied migrations \(applied.map(String.init).joined(separator: ", ")); schema at version \(version)")
        } catch let e as PostgresError {
            throw CLIFailure("migrate: \(e.description)")
        }
    }
}
