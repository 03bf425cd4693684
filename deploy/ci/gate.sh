#!/usr/bin/env bash
# The simulation gate: runs each scenario listed in Reports/gate.list and compares its report
# with the committed baseline in Reports/<scenario>/. Prints the comparison tables (Markdown)
# and exits 1 when any metric got significantly worse, 2 when a report cannot be compared.
# A deliberate change of behaviour regenerates the baselines in the same commit:
#   honeycomb simulate Scenarios/<name>.yaml --update-baseline
set -uo pipefail
cd "$(dirname "$0")/../.."

swift build --product honeycomb >/dev/null || exit 2
bin=.build/debug/honeycomb
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
  "$bin" compare "Reports/$name/report.json" "$out/$name/report.json" --format markdown
  rc=$?
  if ((rc > status)); then status=$rc; fi
done < Reports/gate.list

if ((status == 0)); then echo "gate: no significant regression"; else echo "gate: FAILED (status $status)"; fi
exit $status
