import Foundation

/// A store row that does not read as its columns promise: which row, which column, what was
/// found. Logged, never shown to clients (they get a generic 503).
struct StoreRowError: Error, CustomStringConvertible {
    var description: String
}

/// One result row read column by column with its type checked: a NULL or a malformed value
/// is an error naming the row and the column, never a crash.
struct RowFields {
    let row: [String?]
    let kind: String

    init(_ row: [String?], of kind: String) {
        self.row = row
        self.kind = kind
    }

    private func raw(_ i: Int) throws -> String? {
        guard i < row.count else { throw StoreRowError(description: "\(kind) row: no column \(i) (it has \(row.count))") }
        return row[i]
    }

    func text(_ i: Int) throws -> String {
        guard let v = try raw(i) else { throw StoreRowError(description: "\(kind) row: column \(i) is NULL") }
        return v
    }

    func optionalText(_ i: Int) throws -> String? { try raw(i) }

    func int64(_ i: Int) throws -> Int64 {
        let v = try text(i)
        guard let n = Int64(v) else { throw StoreRowError(description: "\(kind) row: column \(i) is not an integer: \(v)") }
        return n
    }

    func optionalInt64(_ i: Int) throws -> Int64? {
        guard try raw(i) != nil else { return nil }
        return try int64(i)
    }

    func double(_ i: Int) throws -> Double {
        let v = try text(i)
        guard let x = Double(v) else { throw StoreRowError(description: "\(kind) row: column \(i) is not a number: \(v)") }
        return x
    }

    func bool(_ i: Int) throws -> Bool {
        switch try text(i) {
        case "t": return true
        case "f": return false
        case let v: throw StoreRowError(description: "\(kind) row: column \(i) is not a boolean: \(v)")
        }
    }

    /// A JSON column decoded as `T`; nil when it is NULL.
    func json<T: Decodable>(_ i: Int, as type: T.Type) throws -> T? {
        guard let v = try raw(i) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(v.utf8))
        } catch {
            throw StoreRowError(description: "\(kind) row: column \(i) is not the JSON expected: \(error)")
        }
    }
}
