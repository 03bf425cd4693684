#!/usr/bin/env bash
# The whole test suite, from a fresh Debian + Swift machine: installs what is missing, starts
# PostgreSQL, Redis, nats-server (JetStream) and SeaweedFS on 127.0.0.1, runs `swift test`
# against them, and stops them again whatever happens. Extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

deploy/local/install-deps.sh --servers

# The core's product, linked alone into a program of its own (no servers needed).
deploy/ci/core-alone.sh

# Every Kubernetes overlay and the sweep's Jobs: rendered, strictly valid, and clean by checkov.
deploy/kubernetes/validate.sh

HONEYCOMB_SERVICES_DIR=$(mktemp -d /tmp/honeycomb-services.XXXXXX)
export HONEYCOMB_SERVICES_DIR
trap 'deploy/local/services.sh stop' EXIT
deploy/local/services.sh start
set -a
# shellcheck disable=SC1091
. "$HONEYCOMB_SERVICES_DIR/env"
set +a

# Bounded: a hung test must not hold CI (or the servers) forever. Every test that talks to
# the servers (the adapters, the live service end to end, serve killed and restarted) runs in
# a process of its own, after the rest: the simulator's and the fuzzer's CPU-bound tests would
# otherwise hold Swift's cooperative pool (and with it heartbeats, TTLs and timers) for
# minutes — measured: an adapter test of a few milliseconds waited 272 s for a thread.
servers='HoneycombLiveTests\.'
timeout --signal=TERM --kill-after=30 "${HONEYCOMB_TEST_TIMEOUT:-2400}" swift test --skip "$servers" "$@"
timeout --signal=TERM --kill-after=30 "${HONEYCOMB_TEST_TIMEOUT:-2400}" swift test --skip-build --filter "$servers"
# Alone, since it takes a core and the test process's threads for seconds: 5,000 half-open
# connections against serve (ConnectionFloodTests).
HONEYCOMB_FLOOD=1 timeout --signal=TERM --kill-after=30 300 swift test --skip-build --filter 'HoneycombLiveTests\.ConnectionFloodTests'
# Alone, since it keeps both cores busy: schemathesis against serve (ContractTests).
HONEYCOMB_CONTRACT=1 timeout --signal=TERM --kill-after=30 600 swift test --skip-build --filter 'HoneycombLiveTests\.ContractTests'
# Last and alone, since it stops the servers the others use: each dependency stopped 5 s under
# load, and serve SIGKILLed (ChaosTests).
HONEYCOMB_CHAOS=1 timeout --signal=TERM --kill-after=30 600 swift test --skip-build --filter 'HoneycombLiveTests\.ChaosTests'
