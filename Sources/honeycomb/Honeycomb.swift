import ArgumentParser

/// The one executable: simulate scenarios now; serve live in a later release.
@main
struct Honeycomb: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "honeycomb",
        abstract: "HiveFabric's control plane: simulate placement policy on scenario files.",
        subcommands: [Simulate.self, Compare.self, Validate.self, Sweep.self, Bench.self, Migrate.self, Serve.self,
                      Executor.self, LoadTestCommand.self, RunLive.self, Keygen.self, Token.self, FuzzCommand.self]
    )
}
