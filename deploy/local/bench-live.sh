#!/usr/bin/env bash
# The live benchmark, from a fresh Debian + Swift machine: a release build, PostgreSQL, Redis,
# nats-server (JetStream) and SeaweedFS on 127.0.0.1, one `honeycomb serve`, and reference
# executors as load (`honeycomb loadtest`); prints accepted tasks/s and p50/p99 latencies,
# then stops everything. Extra arguments go to `honeycomb loadtest` (--rate, --duration, ...).
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
"$bin" keygen --out "$HONEYCOMB_SERVICES_DIR/signing.key" >/dev/null
LOG_LEVEL=warning "$bin" serve --port "$port" --database-url "$HONEYCOMB_PG_URL" \
  --signing-key "$HONEYCOMB_SERVICES_DIR/signing.key" >"$HONEYCOMB_SERVICES_DIR/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "serve did not become ready:" >&2; tail -n 30 "$HONEYCOMB_SERVICES_DIR/serve.log" >&2; exit 1; }

token=$("$bin" token --signing-key "$HONEYCOMB_SERVICES_DIR/signing.key" --subject bench --role admin --ttl 3600)
timeout --signal=TERM --kill-after=30 600 "$bin" loadtest --control-plane "http://127.0.0.1:$port" --token "$token" "$@"
