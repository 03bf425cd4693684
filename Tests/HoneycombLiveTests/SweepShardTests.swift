import Foundation
import Testing

/// A sweep in shards through the S3 store (SeaweedFS), as the Kubernetes Indexed Job runs it:
/// each shard writes its points' reports and the plan to s3://..., and the merge from there
/// equals the sweep run on one machine.
@Suite(.enabled(if: LiveEnvironment.available, "servers not started: run the README's test command"))
struct SweepShardTests {
    @Test func shardsWrittenToS3MergeIntoTheUnshardedSweep() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("honeycomb-shards-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var env: [String: String] = [:]
        for k in ["HONEYCOMB_S3_URL", "HONEYCOMB_S3_ACCESS_KEY", "HONEYCOMB_S3_SECRET_KEY"] { env[k] = LiveEnvironment.env[k] }
        let scenario = ServeProcess.root.appendingPathComponent("Scenarios/placement-study.yaml").path
        let sweep = ["sweep", scenario, "--replications", "1", "--vary", "policy.scheduler.score.reliability=0,2",
                     "--vary", "duration=60m", "--vary", "warmup=20m"]
        let target = "s3://honeycomb-sweeps/run-\(UInt32.random(in: 0...UInt32.max))"
        for i in 0..<2 {
            let r = try await ClientCommandTests.honeycomb(sweep + ["--shard", "2", "--out", target],
                                                           env: env.merging(["JOB_COMPLETION_INDEX": String(i)]) { _, b in b })
            #expect(r.status == 0, "shard \(i): \(r.err)")
        }
        let merged = try await ClientCommandTests.honeycomb(["sweep", "--merge", target, "--out", dir.appendingPathComponent("merged").path],
                                                            env: env)
        #expect(merged.status == 0, "\(merged.err)")
        let whole = try await ClientCommandTests.honeycomb(sweep + ["--out", dir.appendingPathComponent("whole").path], env: env)
        #expect(whole.status == 0, "\(whole.err)")
        for file in ["sweep.csv", "sweep.md"] {
            let a = try Data(contentsOf: dir.appendingPathComponent("whole/\(file)"))
            let b = try Data(contentsOf: dir.appendingPathComponent("merged/\(file)"))
            #expect(a == b, "\(file) merged from S3 differs from the unsharded sweep's")
        }
        let none = try await ClientCommandTests.honeycomb(["sweep", "--merge", target + "-never", "--out", dir.path], env: env)
        #expect(none.status != 0 && none.err.contains("holds no plan.json"), "\(none.err)")
    }
}
