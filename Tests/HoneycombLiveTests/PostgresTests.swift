import Foundation
import HoneycombLive
@testable import HoneycombServer
@testable import HoneycombFleet
import HoneycombAPI
import Testing

/// The PostgreSQL adapter against the real server the README's test command starts. Each test
/// gets a database of its own.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["HONEYCOMB_PG_URL"] != nil,
                "PostgreSQL not started: run the README's test command"))
struct PostgresTests {
    static let serverURL = ProcessInfo.processInfo.environment["HONEYCOMB_PG_URL"] ?? ""

    /// A fresh, empty database; returns a connection to it.
    static func freshDatabase() async throws -> PostgresConnection {
        let admin = try await PostgresConnection(url: serverURL)
        let name = "honeycomb_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await admin.execute("CREATE DATABASE \(name)")
        var url = URLComponents(string: serverURL)!
        url.path = "/" + name
        return try await PostgresConnection(url: url.string!)
    }

    @Test func migrationsApplyOnceInOrder() async throws {
        let db = try await Self.freshDatabase()
        #expect(try await Migrations.currentVersion(on: db) == 0)
        #expect(try await Migrations.apply(on: db) == [1, 2, 3, 4, 5, 6])
        #expect(try await Migrations.apply(on: db) == [])
        #expect(try await Migrations.currentVersion(on: db) == 6)
        let tables = try await db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        #expect(tables.rows.map { $0[0]! } == ["agent_versions", "agents", "audit_log", "enrollment_tokens", "executors", "llm_calls", "plane_listening",
                                               "schema_migrations", "task_results", "task_status_history", "tasks", "users"])
    }

    @Test func twoReplicasMigratingAtOnceApplyEachMigrationOnce() async throws {
        let db = try await Self.freshDatabase()
        let url = try await db.execute("SELECT current_database()").rows[0][0]!
        var components = URLComponents(string: Self.serverURL)!
        components.path = "/" + url
        let other = try await PostgresConnection(url: components.string!)
        async let a = Migrations.apply(on: db)
        async let b = Migrations.apply(on: other)
        let (x, y) = try await (a, b)
        #expect((x + y).sorted() == [1, 2, 3, 4, 5, 6])
    }

    @Test func theAuditLogIsAppendOnly() async throws {
        let db = try await Self.freshDatabase()
        try await Migrations.apply(on: db)
        try await db.execute("INSERT INTO audit_log (actor, action, subject) VALUES ($1, $2, $3)",
                             ["alice", "task.submitted", "task/1"])
        for statement in ["UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
            do {
                try await db.execute(statement)
                Issue.record("\(statement) was allowed")
            } catch let e as PostgresError {
                #expect(e.sqlState == "P0001")
                #expect(e.message.contains("append-only"))
            }
        }
        let rows = try await db.execute("SELECT actor FROM audit_log")
        #expect(rows.rows == [["alice"]])
    }

    @Test func aFailedTransactionLeavesNothingHalfWritten() async throws {
        let db = try await Self.freshDatabase()
        try await Migrations.apply(on: db)
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await db.transaction { tx in
                try await tx.execute("INSERT INTO users (name, role) VALUES ($1, 'user')", ["bob"])
                throw Boom()
            }
        }
        #expect(try await db.execute("SELECT count(*) FROM users").rows[0][0] == "0")
        // A constraint violation is a clear, typed error, and nothing lands either.
        do {
            try await db.execute("INSERT INTO users (name, role) VALUES ($1, $2)", ["carol", "wizard"])
            Issue.record("a bad role was accepted")
        } catch let e as PostgresError {
            #expect(e.sqlState == "23514")
        }
        #expect(try await db.execute("SELECT count(*) FROM users").rows[0][0] == "0")
    }

    @Test func parametersAreNeverSpliced() async throws {
        let db = try await Self.freshDatabase()
        try await Migrations.apply(on: db)
        let hostile = "x'); DROP TABLE users; --"
        try await db.execute("INSERT INTO users (name, role) VALUES ($1, 'user')", [hostile])
        #expect(try await db.execute("SELECT name FROM users").rows == [[hostile]])
    }

    @Test func arrayParametersRoundTripWhateverTheyHold() async throws {
        let db = try await Self.freshDatabase()
        let items: [String?] = ["plain", "with \"quotes\"", "back\\slash", "comma, brace {}", "NULL", nil, "", "ünïcødé ✓",
                                "{\"json\": [1, \"two\"]}"]
        let rows = try await db.execute("SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) ORDER BY n",
                                        [PGArray.of(items)]).rows
        #expect(rows.map { $0[0] } == items)
    }

    @Test func aDroppedConnectionReopensOnlyWhenAskedAndNeverInsideATransaction() async throws {
        let db = try await Self.freshDatabase()
        let name = try await db.execute("SELECT current_database()").rows[0][0]!
        var components = URLComponents(string: Self.serverURL)!
        components.path = "/" + name
        let healing = try await PostgresConnection(url: components.string!, autoReconnect: true)
        let plain = try await PostgresConnection(url: components.string!)
        @Sendable func cut(_ c: PostgresConnection) async throws {
            let pid = try await c.execute("SELECT pg_backend_pid()").rows[0][0]!
            try await db.execute("SELECT pg_terminate_backend($1::int)", [pid])
        }
        try await cut(healing)
        await #expect(throws: PostgresError.self) { try await healing.execute("SELECT 1") }  // the one that meets it
        #expect(try await healing.execute("SELECT 1").rows == [["1"]])
        try await cut(plain)
        await #expect(throws: PostgresError.self) { try await plain.execute("SELECT 1") }
        await #expect(throws: PostgresError.self) { try await plain.execute("SELECT 1") }
        // Inside a transaction a lost connection is the transaction's error: nothing half-written.
        try await healing.execute("CREATE TABLE t (x int)")
        await #expect(throws: PostgresError.self) {
            try await healing.transaction { tx in
                try await tx.execute("INSERT INTO t VALUES (1)")
                try await cut(tx)
                try await tx.execute("INSERT INTO t VALUES (2)")
            }
        }
        #expect(try await healing.execute("SELECT count(*) FROM t").rows == [["0"]])
    }

    @Test func aWrongAddressIsACleanError() async throws {
        await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection(url: "postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2")
        }
    }
}
