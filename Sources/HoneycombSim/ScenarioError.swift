/// Why a scenario file was refused: where (file, line, column, field path) and what was
/// expected. Nothing runs until a file loads without one.
public struct ScenarioError: Error, CustomStringConvertible, Sendable {
    public var file: String
    /// 1-based; 0 when the position is unknown.
    public var line: Int
    public var column: Int
    /// The field, as `executors[0].churn.uptime`; empty for the whole document.
    public var path: String
    public var message: String

    public init(file: String, line: Int, column: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.message = message
    }

    public var description: String {
        let place = line > 0 ? "\(file):\(line):\(column)" : file
        return path.isEmpty ? "\(place): \(message)" : "\(place): \(path): \(message)"
    }
}
