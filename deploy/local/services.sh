#!/usr/bin/env bash
# Starts or stops the servers Honeycomb's tests run against, on 127.0.0.1 only:
# PostgreSQL 15, Redis 7, nats-server with JetStream, and SeaweedFS (`weed mini`) as the S3
# store. Data lives under $HONEYCOMB_SERVICES_DIR (default /tmp/honeycomb-services) and is
# thrown away by `stop`. `start` writes $DIR/env with the addresses for the tests to read.
#
# Usage: deploy/local/services.sh start|stop|status
#        deploy/local/services.sh stop-one|start-one postgres|redis|nats|weed
# (`stop-one` and `start-one` take one server away and bring it back on the same port and
# data, for the outage tests: PostgreSQL and nats-server keep their data, Redis comes back empty.)
set -euo pipefail

dir=${HONEYCOMB_SERVICES_DIR:-/tmp/honeycomb-services}
pg_port=${HONEYCOMB_PG_PORT:-55432}
redis_port=${HONEYCOMB_REDIS_PORT:-56379}
nats_port=${HONEYCOMB_NATS_PORT:-54222}
s3_port=${HONEYCOMB_S3_PORT:-58333}
weed_master_port=${HONEYCOMB_WEED_MASTER_PORT:-59333}

say() { printf 'services: %s\n' "$*" >&2; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# Waits until something listens on 127.0.0.1:$1 (at most $2 seconds).
wait_port() {
  local port=$1 limit=$2 name=$3 i
  for ((i = 0; i < limit * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  say "$name did not start listening on 127.0.0.1:$port within ${limit}s; its log:"
  tail -n 30 "$dir/$name.log" >&2 || true
  return 1
}

start_postgres() {
  # PostgreSQL refuses to run as root: it runs as the postgres user from Debian's package.
  local bin; bin=$(pg_bin)
  [[ -n "$bin" ]] || { say "PostgreSQL is not installed (deploy/local/install-deps.sh --servers)"; exit 1; }
  local run_as=()
  [[ $(id -u) -eq 0 ]] && run_as=(runuser -u postgres --)
  if [[ ! -f "$dir/pg/PG_VERSION" ]]; then
    mkdir -p "$dir/pg"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir/pg"
    "${run_as[@]}" "$bin/initdb" -D "$dir/pg" -U honeycomb --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1
  fi
  touch "$dir/postgres.log"
  [[ $(id -u) -eq 0 ]] && chown postgres "$dir/postgres.log"
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/pg" -l "$dir/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $dir/pg" start >/dev/null
  wait_port "$pg_port" 30 postgres
  "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U honeycomb -d postgres -qtA \
    -c "SELECT 1 FROM pg_database WHERE datname = 'honeycomb'" | grep -q 1 ||
    "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U honeycomb honeycomb
}

start_redis() {
  redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  wait_port "$redis_port" 20 redis
}

start_nats() {
  mkdir -p "$dir/nats"
  nohup nats-server -a 127.0.0.1 -p "$nats_port" -js -sd "$dir/nats" -P "$dir/nats.pid" >>"$dir/nats.log" 2>&1 &
  wait_port "$nats_port" 20 nats
}

start_weed() {
  # One S3 identity, so that SeaweedFS checks every request's SigV4 signature.
  mkdir -p "$dir/weed"
  cat >"$dir/s3.json" <<'S3'
{"identities": [{"name": "honeycomb",
  "credentials": [{"accessKey": "honeycomb-test", "secretKey": "honeycomb-test-secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
S3
  nohup weed mini -s3.config="$dir/s3.json" -dir="$dir/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$weed_master_port" -volume.port=$((weed_master_port + 1)) \
    -filer.port=$((weed_master_port + 2)) -s3.port="$s3_port" -s3.port.iceberg=0 -s3.port.lance=0 \
    -webdav=false -admin.ui=false -bucket=honeycomb-bundles >>"$dir/weed.log" 2>&1 &
  echo $! >"$dir/weed.pid"
  wait_port "$s3_port" 90 weed
}

start() {
  mkdir -p "$dir"
  chmod 755 "$dir"
  start_postgres
  start_redis
  start_nats
  start_weed

  cat >"$dir/env" <<ENV
HONEYCOMB_PG_URL=postgresql://honeycomb@127.0.0.1:$pg_port/honeycomb
HONEYCOMB_REDIS_URL=redis://127.0.0.1:$redis_port
HONEYCOMB_NATS_URL=nats://127.0.0.1:$nats_port
HONEYCOMB_S3_URL=http://127.0.0.1:$s3_port
HONEYCOMB_S3_ACCESS_KEY=honeycomb-test
HONEYCOMB_S3_SECRET_KEY=honeycomb-test-secret
ENV
  say "PostgreSQL :$pg_port, Redis :$redis_port, NATS+JetStream :$nats_port, SeaweedFS S3 :$s3_port (all 127.0.0.1)"
}

stop_pid() {
  local file=$1 pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_postgres() {
  local bin; bin=$(pg_bin)
  if [[ -n "$bin" && -f "$dir/pg/postmaster.pid" ]]; then
    local run_as=()
    [[ $(id -u) -eq 0 ]] && run_as=(runuser -u postgres --)
    "${run_as[@]}" "$bin/pg_ctl" -D "$dir/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
stop_redis() { stop_pid "$dir/redis.pid"; }
stop_nats() { stop_pid "$dir/nats.pid"; }
stop_weed() {
  stop_pid "$dir/weed.pid"
  # `weed mini` runs its servers in one process; wait until its ports are free again.
  local i
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null || return 0
    sleep 0.1
  done
}

stop() {
  stop_postgres
  stop_redis
  stop_nats
  stop_weed
  rm -rf "$dir"
}

one() {
  case "${2:-}" in
    postgres | redis | nats | weed) "$1_$2" ;;
    *) echo "usage: $0 $1-one postgres|redis|nats|weed" >&2; exit 2 ;;
  esac
}

status() {
  for p in "$pg_port:postgres" "$redis_port:redis" "$nats_port:nats" "$s3_port:seaweedfs-s3"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/${p%%:*}") 2>/dev/null; then echo "${p#*:} up"; else echo "${p#*:} down"; fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  stop-one) one stop "${2:-}" ;;
  start-one) one start "${2:-}" ;;
  *) echo "usage: $0 start|stop|status|stop-one NAME|start-one NAME" >&2; exit 2 ;;
esac
