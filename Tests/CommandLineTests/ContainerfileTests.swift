import Foundation
import Testing

/// The image's recipe, checked without a container engine (none runs on these machines, and
/// hadolint is in no registry they reach): two stages, the run stage on a pinned slim Debian
/// with a package for every shared library the binary needs and no build tools, a numeric
/// non-root user, and `honeycomb` as the exec-form entrypoint.
@Suite struct ContainerfileTests {
    struct Stage {
        var base: String
        var name: String
        var lines: [String] = []
    }

    /// The stages, with `ARG` defaults substituted and continued lines joined.
    static func stages() throws -> (args: [String: String], stages: [Stage]) {
        let text = try String(contentsOf: CommandLineTests.root.appendingPathComponent("deploy/container/Containerfile"), encoding: .utf8)
        var logical: [String] = [], current = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || (line.isEmpty && current.isEmpty) { continue }
            if line.hasSuffix("\\") { current += line.dropLast() + " "; continue }
            logical.append(current + line)
            current = ""
        }
        var args: [String: String] = [:], stages: [Stage] = []
        for line in logical where !line.isEmpty {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            switch parts[0] {
            case "ARG" where stages.isEmpty:
                let kv = parts[1].split(separator: "=", maxSplits: 1).map(String.init)
                args[kv[0]] = kv.count > 1 ? kv[1] : ""
            case "FROM":
                let words = parts[1].split(separator: " ").map(String.init)
                var base = words[0]
                for (k, v) in args { base = base.replacingOccurrences(of: "${\(k)}", with: v) }
                stages.append(Stage(base: base, name: words.count == 3 && words[1].uppercased() == "AS" ? words[2] : ""))
            default:
                stages[stages.count - 1].lines.append(line)
            }
        }
        return (args, stages)
    }

    @Test func twoStagesEndingOnPinnedSlimDebianAsAnUnprivilegedUser() throws {
        let (_, stages) = try Self.stages()
        #expect(stages.map(\.name) == ["build", "run"])
        for s in stages {
            let tag = s.base.split(separator: ":").last.map(String.init) ?? ""
            #expect(s.base.contains(":") && tag != "latest", "\(s.base): a base image must name its tag")
        }
        #expect(stages[0].base.contains("swift:6.3"), "built with the Swift toolchain 6.3 image")
        #expect(stages[0].lines.contains { $0.contains("swift build -c release --product honeycomb --static-swift-stdlib") })
        let run = stages[1]
        #expect(run.base.hasSuffix("debian:bookworm-slim"))
        let user = run.lines.last { $0.hasPrefix("USER ") }.map { String($0.dropFirst(5)) }
        let uid = user?.split(separator: ":").first.flatMap { Int($0) }
        #expect(uid != nil && uid != 0, "the run stage must end on a numeric non-root USER, found \(user ?? "none")")
        #expect(run.lines.last { $0.hasPrefix("ENTRYPOINT") } == #"ENTRYPOINT ["/usr/local/bin/honeycomb"]"#)
        #expect(run.lines.contains { $0.hasPrefix("COPY --from=build /out/honeycomb /usr/local/bin/honeycomb") })
        // Nothing there to build or fetch with.
        let installs = run.lines.filter { $0.contains("apt-get install") }.joined(separator: " ")
        for tool in ["gcc", "clang", "swift", "curl", "wget", "git", "-dev", "build-essential", "procps", "vim"] {
            #expect(!installs.contains(" \(tool)") && !installs.contains("\(tool) "), "the run stage installs \(tool)")
        }
        #expect(installs.contains("--no-install-recommends") && run.lines.contains { $0.contains("rm -rf /var/lib/apt/lists/*") })
    }

    /// Every shared library the binary needs (its ELF NEEDED entries, less the Swift runtime,
    /// which the image links in statically) comes from a package the run stage installs, or
    /// that every Debian has.
    @Test func theRunStageInstallsEveryLibraryTheBinaryNeeds() throws {
        let binary = CommandLineTests.root.appendingPathComponent(".build/debug/honeycomb").path
        func output(_ tool: String, _ args: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let needed = try output("/usr/bin/readelf", ["-d", binary]).split(separator: "\n").compactMap { line -> String? in
            guard line.contains("(NEEDED)"), let a = line.firstIndex(of: "["), let b = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: a)..<b])
        }
        #expect(needed.contains("libpq.so.5") && needed.contains("libnats.so.3.4"), "\(needed)")
        let swiftRuntime = ["libswift", "lib_Foundation", "libFoundation", "libdispatch", "libBlocksRuntime"]
        let (_, stages) = try Self.stages()
        let installs = stages[1].lines.filter { $0.contains("apt-get install") }.joined(separator: " ")
        let installed = Set(installs.split(separator: " ").map(String.init)).union(["libc6", "libgcc-s1"])
        for lib in needed where !swiftRuntime.contains(where: lib.hasPrefix) {
            let owner = try output("/usr/bin/dpkg", ["-S", "*/\(lib)"]).split(separator: ":").first.map(String.init) ?? ""
            #expect(installed.contains(owner), "\(lib) comes from \(owner.isEmpty ? "no package" : owner), which the run stage does not install")
        }
    }
}
