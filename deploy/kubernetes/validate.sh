#!/usr/bin/env bash
# Renders every overlay (and the sweep's Jobs) with `kubectl kustomize`, validates the result strictly against the
# Kubernetes schemas (kubernetes-validate, PyPI) and runs checkov (PyPI) on it; a check
# skipped carries its reason in an annotation (checkov.io/skipN). Installs the two tools when
# missing. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")"
command -v kubectl >/dev/null 2>&1 || { echo "validate.sh: kubectl (with kustomize v5) is needed; Debian's kubernetes-client is too old" >&2; exit 1; }
python3 -c 'import kubernetes_validate' 2>/dev/null || python3 -m pip install -q kubernetes-validate >&2
command -v checkov >/dev/null 2>&1 || python3 -m pip install -q checkov >&2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for overlay in overlays/*/ sweep/ sweep/merge/; do
  name=$(echo "${overlay%/}" | tr / -)
  kubectl kustomize "$overlay" > "$out/$name.yaml"
  python3 -m kubernetes_validate --strict --quiet -k "${KUBERNETES_VERSION:-1.32.0}" "$out/$name.yaml"
  checkov -f "$out/$name.yaml" --framework kubernetes --compact --quiet --skip-download
  echo "kubernetes: $name rendered, valid, and passes checkov" >&2
done
