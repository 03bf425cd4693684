#!/usr/bin/env bash
# The HoneycombCore product links alone on Linux: a throwaway package that depends on this
# checkout's HoneycombCore product only builds a program that drives the plane, links it (no
# Foundation, no C library, no other target of ours), runs it, and checks what it printed.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d /tmp/honeycomb-core-alone.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/Sources/consumer"
cat > "$dir/Package.swift" <<SWIFT
// swift-tools-version:6.0
import PackageDescription
let package = Package(
    name: "consumer",
    dependencies: [.package(name: "Honeycomb", path: "$here")],
    targets: [.executableTarget(name: "consumer", dependencies: [.product(name: "HoneycombCore", package: "Honeycomb")])]
)
SWIFT
cat > "$dir/Sources/consumer/main.swift" <<'SWIFT'
import HoneycombCore

// One executor, one task: the plane dispatches it, and the run ends succeeded.
let agent = AgentDefinition(name: "echo", version: "1", requires: Resources(cpuMillis: 100, memoryBytes: 1 << 20, slots: 1))
var plane = ControlPlane(config: PlaneConfig(), agents: [agent])
var fx = PlaneEffects()
let executor = ExecutorID(0)
plane.handle(.executorRegistered(executor, ExecutorSpec(labels: LabelSet(), capacity: Resources(cpuMillis: 1000, memoryBytes: 1 << 30, slots: 2))),
             at: .zero, effects: &fx)
plane.handle(.taskSubmitted(TaskSpec(id: TaskID(0), agent: AgentID(0))), at: .zero, effects: &fx)
print("state:", plane.tasks[TaskID(0)]?.state.description ?? "none")
SWIFT
# The scratch path keeps this build apart from the project's own .build.
swift build --package-path "$dir" --scratch-path "$dir/.build" -c debug --product consumer >"$dir/build.log" 2>&1 \
  || { cat "$dir/build.log" >&2; echo "core-alone: the HoneycombCore product did not build or link alone" >&2; exit 1; }
out=$("$dir/.build/debug/consumer")
echo "core-alone: $out"
[[ "$out" == "state: dispatched" ]] || { echo "core-alone: expected 'state: dispatched'" >&2; exit 1; }
libs=$(ldd "$dir/.build/debug/consumer" | grep -Eo 'lib(Foundation|gsl|pq|hiredis|nats|ssl|crypto)[^ ]*' || true)
[[ -z "$libs" ]] || { echo "core-alone: the program links $libs" >&2; exit 1; }
echo "core-alone: the HoneycombCore product builds, links and runs alone (no Foundation, no C libraries)"
