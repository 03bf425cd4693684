import Foundation
import HoneycombAPI
import HoneycombCore
import HoneycombDriver
import HoneycombLive

extension JSONValue {
    /// Compact JSON text, for the store. PostgreSQL's jsonb refuses the NUL character, so a
    /// value holding one is refused here, with the reason, before anything is written.
    func text(field: String) throws -> String {
        if containsNUL { throw Problem.badRequest("\(field): strings may not contain the NUL character (\\u0000)") }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Checks of names and numbers that come from clients.
enum Check {
    /// Names of agents, versions, users and executors: 1–128 of letters, digits, `-_.`.
    static func name(_ s: String, _ field: String) throws {
        guard (1...128).contains(s.utf8.count),
              s.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }),
              s != ".", s != ".." else {
            throw Problem.badRequest("\(field): expected 1 to 128 letters, digits, '-', '_' or '.', found \"\(s.prefix(40))\"")
        }
    }

    static func range<T: Comparable>(_ v: T, _ r: ClosedRange<T>, _ field: String) throws {
        guard r.contains(v) else { throw Problem.badRequest("\(field): expected a value in \(r.lowerBound)...\(r.upperBound), found \(v)") }
    }
}
