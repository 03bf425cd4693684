#!/usr/bin/env bash
# The live benchmark, from a fresh Debian + Swift machine: a release build, PostgreSQL, Redis,
# nats-server (JetStream) and SeaweedFS on 127.0.0.1, one `honeycomb serve`, and reference
# executors as load (`honeycomb loadtest`); prints accepted tasks/s and p50/p99 latencies,
# then stops everything. Extra arguments go to `honeycomb loadtest` (--rate, --duration, ...).
#
#   deploy/local/bench-live.sh --compare-protocols [--rounds 2 --heartbeat-executors 256 ...]
#
# runs REST and gRPC executors in turn in the one run (a heartbeat flood, then the task load,
# for each), with `serve` pinned to one core (taskset -c 0) and the load generator to the
# other, and prints the table of both.
set -euo pipefail
cd "$(dirname "$0")/../.."

deploy/local/install-deps.sh --servers
swift build -c release --product honeycomb
bin=.build/release/honeycomb

HONEYCOMB_SERVICES_DIR=$(mktemp -d /tmp/honeycomb-bench.XXXXXX)
export HONEYCOMB_SERVICES_DIR
serve_pid=
cleanup() {
  [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  deploy/local/services.sh stop
}
trap cleanup EXIT
deploy/local/services.sh start
set -a
# shellcheck disable=SC1091
. "$HONEYCOMB_SERVICES_DIR/env"
set +a

port=${HONEYCOMB_BENCH_PORT:-58080}
grpc_port=$((port + 1))
serve_cpus=() load_cpus=() extra=()
if [[ " $* " == *" --compare-protocols "* ]] && [[ $(nproc) -ge 2 ]]; then
  serve_cpus=(taskset -c 0) load_cpus=(taskset -c 1)
fi
"$bin" keygen --out "$HONEYCOMB_SERVICES_DIR/signing.key" >/dev/null
LOG_LEVEL=warning "${serve_cpus[@]}" "$bin" serve --port "$port" --grpc-port "$grpc_port" --database-url "$HONEYCOMB_PG_URL" \
  --signing-key "$HONEYCOMB_SERVICES_DIR/signing.key" >"$HONEYCOMB_SERVICES_DIR/serve.log" 2>&1 &
serve_pid=$!
[[ " $* " == *" --compare-protocols "* ]] && extra=(--serve-pid "$serve_pid")
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "serve did not become ready:" >&2; tail -n 30 "$HONEYCOMB_SERVICES_DIR/serve.log" >&2; exit 1; }

token=$("$bin" token --signing-key "$HONEYCOMB_SERVICES_DIR/signing.key" --subject bench --role admin --ttl 3600)
timeout --signal=TERM --kill-after=30 900 "${load_cpus[@]}" "$bin" loadtest --control-plane "http://127.0.0.1:$port" \
  --grpc-port "$grpc_port" --token "$token" "${extra[@]}" "$@"
