import ArgumentParser

/// The one executable: the simulator and its tools, the live service, its load generators, and
/// the client commands people use against it.
@main
struct Honeycomb: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "honeycomb",
        abstract: "HiveFabric's control plane: simulate policy on scenario files, serve it live, and use it.",
        subcommands: [Simulate.self, Compare.self, Validate.self, Sweep.self, Bench.self, Migrate.self, Serve.self,
                      Executor.self, LoadTestCommand.self, RunLive.self, Keygen.self, Token.self, FuzzCommand.self,
                      Login.self, Logout.self, Tasks.self, Agents.self, Executors.self, Users.self, EnrollmentTokens.self]
    )
}
