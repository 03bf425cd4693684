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
