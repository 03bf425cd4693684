#!/usr/bin/env bash
# The simulation gate: runs each scenario listed in Reports/gate.list and compares its report
# with the committed baseline in Reports/<scenario file name>/. Prints the comparison tables
# (Markdown) on stdout and exits 1 when any metric got significantly worse, 2 when something
# cannot be run or compared. A deliberate change of behaviour regenerates the baselines in the
# same commit:  honeycomb simulate Scenarios/<name>.yaml --update-baseline
#
# HONEYCOMB_BIN: a honeycomb binary to use (default: build this checkout's).
# HONEYCOMB_PROJECT: the folder holding Scenarios/ and Reports/ (default: this checkout).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)

bin=${HONEYCOMB_BIN:-}
if [[ -z "$bin" ]]; then
  # Build output goes to stderr: a broken build shows its errors, and stdout stays the table.
  (cd "$here" && swift build --product honeycomb) >&2 || { echo "gate: the build failed" >&2; exit 2; }
  bin=$here/.build/debug/honeycomb
fi
cd "${HONEYCOMB_PROJECT:-$here}" || exit 2

out=Reports/runs/gate
rm -rf "$out"
mkdir -p "$out"

status=0
while read -r scenario; do
  [[ -z "$scenario" || "$scenario" == \#* ]] && continue
  name=$(basename "$scenario" .yaml)
  if [[ ! -f "Reports/$name/report.json" ]]; then
    echo "gate: no baseline Reports/$name/report.json for $scenario" >&2
    status=2
    continue
  fi
  "$bin" simulate "$scenario" --out "$out/$name" --quiet >/dev/null || { status=2; continue; }
  "$bin" compare "Reports/$name/report.json" "$out/$name/report.json" --format markdown --plots "$out/$name/vs-baseline"
  rc=$?
  if ((rc > status)); then status=$rc; fi
done < Reports/gate.list

if ((status == 0)); then echo "gate: no significant regression"; else echo "gate: FAILED (status $status)"; fi
exit $status
