#!/usr/bin/env bash
# The whole test suite, from a fresh Debian + Swift machine: installs what is missing, starts
# PostgreSQL, Redis, nats-server (JetStream) and SeaweedFS on 127.0.0.1, runs `swift test`
# against them, and stops them again whatever happens. Extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")/../.."

deploy/local/install-deps.sh --servers

# The core's product, linked alone into a program of its own (no servers needed).
deploy/ci/core-alone.sh

HONEYCOMB_SERVICES_DIR=$(mktemp -d /tmp/honeycomb-services.XXXXXX)
export HONEYCOMB_SERVICES_DIR
trap 'deploy/local/services.sh stop' EXIT
deploy/local/services.sh start
set -a
# shellcheck disable=SC1091
. "$HONEYCOMB_SERVICES_DIR/env"
set +a

# Bounded: a hung test must not hold CI (or the servers) forever. The live service's
# end-to-end tests run in a process of their own: the simulator's CPU-bound tests would
# otherwise hold Swift's cooperative pool (heartbeats and timers with it) for seconds.
live='LiveServiceTests|KillRestartTests'
timeout --signal=TERM --kill-after=30 "${HONEYCOMB_TEST_TIMEOUT:-2400}" swift test --skip "$live" "$@"
timeout --signal=TERM --kill-after=30 "${HONEYCOMB_TEST_TIMEOUT:-2400}" swift test --skip-build --filter "$live"
