import CLibPQ
import Foundation

/// An error from PostgreSQL or libpq: what failed, the server's message, its SQLSTATE.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The five-character SQLSTATE (`23505` unique violation, `P0001` raised exception, ...).
    public var sqlState: String?
    public var description: String { sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message }
}

/// The rows a query returned, as text (libpq's text format), `nil` for SQL NULL.
public struct PostgresRows: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    /// Rows a command touched (INSERT, UPDATE, ...).
    public var affected: Int
}

/// One connection to PostgreSQL through libpq.
///
/// libpq's calls block, so they never run on Swift's cooperative pool: every call goes to this
/// connection's own serial dispatch queue, one at a time, and the caller awaits it.
public final class PostgresConnection: @unchecked Sendable {
    // @unchecked: the PGconn and `inTransaction` are touched only on `queue`, one call at a time.
    private let conn: OpaquePointer
    private let queue: DispatchQueue
    /// Reopen a dropped connection before the next statement outside a transaction. Off for a
    /// connection whose session matters (one holding an advisory lock must fail instead).
    private let autoReconnect: Bool
    /// Inside `transaction` (touched only on `queue`).
    private var inTransaction = false

    /// Connects to `url` (`postgresql://user@host:port/db`).
    public init(url: String, autoReconnect: Bool = false) async throws {
        let queue = DispatchQueue(label: "honeycomb.postgres")
        self.queue = queue
        self.autoReconnect = autoReconnect
        conn = try await withCheckedThrowingContinuation { (k: CheckedContinuation<Handle, Error>) in
            queue.async {
                guard let c = PQconnectdb(url) else {
                    k.resume(throwing: PostgresError(message: "libpq could not allocate a connection", sqlState: nil))
                    return
                }
                guard PQstatus(c) == CONNECTION_OK else {
                    let message = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
                    PQfinish(c)
                    k.resume(throwing: PostgresError(message: "cannot connect to PostgreSQL: \(message)", sqlState: nil))
                    return
                }
                // Server notices ("already exists, skipping") are not errors: keep them off stderr.
                PQsetNoticeProcessor(c, { _, _ in }, nil)
                k.resume(returning: Handle(pointer: c))
            }
        }.pointer
    }

    /// A connection handle in transit from the connecting queue.
    private struct Handle: @unchecked Sendable {
        // @unchecked: handed over once, then used only on the connection's queue.
        let pointer: OpaquePointer
    }

    deinit {
        // The last reference is gone, so no call is queued: finish here.
        PQfinish(conn)
    }

    /// Runs one statement with `$1`, `$2`, ... parameters (text, `nil` for NULL).
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) async throws -> PostgresRows {
        try await withCheckedThrowingContinuation { k in
            queue.async {
                k.resume(with: Result { try Self.run(self.conn, sql, parameters, reconnect: self.autoReconnect && !self.inTransaction) })
            }
        }
    }

    /// Runs a script of several statements (no parameters), as migrations are.
    public func executeScript(_ sql: String) async throws {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<Void, Error>) in
            queue.async {
                let conn = self.conn
                guard let result = PQexec(conn, sql) else {
                    k.resume(throwing: PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: nil))
                    return
                }
                defer { PQclear(result) }
                let status = PQresultStatus(result)
                if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY {
                    k.resume()
                } else {
                    k.resume(throwing: Self.failure(result))
                }
            }
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws, so
    /// that writes which belong together land together or not at all.
    public func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await execute("BEGIN")
        await setInTransaction(true)
        do {
            let value = try await body(self)
            try await execute("COMMIT")
            await setInTransaction(false)
            return value
        } catch {
            _ = try? await execute("ROLLBACK")
            await setInTransaction(false)
            throw error
        }
    }

    private func setInTransaction(_ value: Bool) async {
        await withCheckedContinuation { (k: CheckedContinuation<Void, Never>) in
            queue.async {
                self.inTransaction = value
                k.resume()
            }
        }
    }

    private static func run(_ conn: OpaquePointer, _ sql: String, _ parameters: [String?],
                            reconnect: Bool = false) throws -> PostgresRows {
        // With `autoReconnect`, a connection the server dropped (a restart, say) is reopened
        // before the next statement, but never inside a transaction: there, the lost
        // connection is the error.
        if reconnect && PQstatus(conn) != CONNECTION_OK {
            PQreset(conn)
            guard PQstatus(conn) == CONNECTION_OK else {
                throw PostgresError(message: "PostgreSQL is unreachable: " + String(cString: PQerrorMessage(conn))
                    .trimmingCharacters(in: .whitespacesAndNewlines), sqlState: nil)
            }
        }
        var cStrings = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { cStrings.forEach { free($0) } }
        let result: OpaquePointer? = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(1, buffer.count)) { p in
                PQexecParams(conn, sql, Int32(parameters.count), nil, parameters.isEmpty ? nil : p, nil, nil, 0)
            }
        }
        guard let result else {
            throw PostgresError(message: String(cString: PQerrorMessage(conn)), sqlState: nil)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            let nCols = Int(PQnfields(result)), nRows = Int(PQntuples(result))
            let columns = (0..<nCols).map { String(cString: PQfname(result, Int32($0))) }
            let rows = (0..<nRows).map { r in
                (0..<nCols).map { c -> String? in
                    PQgetisnull(result, Int32(r), Int32(c)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c)))
                }
            }
            return PostgresRows(columns: columns, rows: rows, affected: Int(String(cString: PQcmdTuples(result))) ?? 0)
        default:
            throw failure(result)
        }
    }

    /// The server's message and SQLSTATE of a failed result.
    private static func failure(_ result: OpaquePointer) -> PostgresError {
        let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        return PostgresError(message: message, sqlState: state)
    }
}
