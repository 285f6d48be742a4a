#!/usr/bin/env bash
# Probes answer in time whatever the database does. The worker reaches PostgreSQL through a
# TCP proxy (socat, in its own process group); SIGSTOP of that group blackholes every
# connection, open or new (the kernel still accepts and buffers, nothing answers). While it
# is stopped both endpoints are probed: /livez must stay 200 under 1 s, /readyz must answer
# within the chart's 2 s probe timeout and turn 503. After SIGCONT the worker must be ready
# again and run a job. Prints the measured latencies. About 25 s of wall time.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR and the PGQ_PG_* variables set).
set -euo pipefail
# shellcheck source=../../ci/lib/ports.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/ci/lib/ports.sh"
build=${PGQ_BUILD_DIR:?run through ci/test}
dsn=${PGQ_TEST_DSN:?run through ci/test}
pg_port=${PGQ_PG_PORT:?run through ci/test}
command -v socat >/dev/null || { echo "socat is missing (ci/deps installs it)"; exit 1; }

schema="blackhole_$RANDOM$RANDOM"
work=$(mktemp -d)
worker="" proxy=""
cleanup() {
  [[ -n $proxy ]] && { kill -CONT -- "-$proxy" 2>/dev/null; kill -TERM -- "-$proxy" 2>/dev/null; } || true
  [[ -n $worker ]] && kill -KILL "$worker" 2>/dev/null || true
  psql "$dsn" -XAtqc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

http_port=$(PGQ_PORTS_FILE="$work/ports" pgq_free_port)
proxy_port=$(PGQ_PORTS_FILE="$work/ports" pgq_free_port)

setsid socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,fork,reuseaddr" "TCP:127.0.0.1:$pg_port" &
proxy=$!
proxied=${dsn/:$pg_port\//:$proxy_port\/}
[[ $proxied != "$dsn" ]] || { echo "cannot find port $pg_port in PGQ_TEST_DSN"; exit 1; }
printf '%s\n' "$proxied" >"$work/dsn"
cat >"$work/config.yaml" <<YAML
database:
  dsn_file: $work/dsn
  connect_timeout: 2s
pool: {min_size: 1, max_size: 3, health_check_interval: 1s, acquire_timeout: 1s}
queue: {schema: $schema, dequeue_timeout: 2s}
entrypoints:
  bh.noop:
    handler: {type: noop}
http: {address: 127.0.0.1, port: $http_port}
logging: {format: text}
shutdown: {grace_period: 5s}
YAML
"$build/worker/pgq" --dsn "$dsn" --schema "$schema" install >/dev/null
"$build/worker/pgq" run --config "$work/config.yaml" >"$work/out.log" 2>&1 &
worker=$!

# probe PATH -> "CODE SECONDS"
probe() { curl -s -o "$work/body" --max-time 10 -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$http_port$1" || true; }
await_ready() { # seconds
  local deadline=$((SECONDS + $1))
  until [[ $(probe /readyz) == "200 "* ]]; do
    if ((SECONDS >= deadline)); then
      echo "not ready after $1 s: $(cat "$work/body" 2>/dev/null)"
      cat "$work/out.log"
      return 1
    fi
    sleep 0.2
  done
}
await_ready 30
echo "ready through the proxy; blackholing it (SIGSTOP of socat's process group)"

kill -STOP -- "-$proxy"
stopped_at=$SECONDS
live_max=0 ready_max=0 first_503=""
failures=0
for round in $(seq 1 10); do
  read -r code secs < <(probe /livez)
  live_max=$(awk -v a="$live_max" -v b="$secs" 'BEGIN { print (b > a ? b : a) }')
  if [[ $code != 200 ]] || awk -v s="$secs" 'BEGIN { exit !(s >= 1) }'; then
    echo "round $round: /livez answered $code in $secs s (want 200 under 1 s)"
    failures=$((failures + 1))
  fi
  read -r code secs < <(probe /readyz)
  ready_max=$(awk -v a="$ready_max" -v b="$secs" 'BEGIN { print (b > a ? b : a) }')
  if awk -v s="$secs" 'BEGIN { exit !(s >= 2) }'; then
    echo "round $round: /readyz took $secs s (the probe timeout is 2 s)"
    failures=$((failures + 1))
  fi
  if [[ $code == 503 && -z $first_503 ]]; then
    first_503=$((SECONDS - stopped_at))
    echo "readyz while blackholed: $(cat "$work/body")"
  fi
  sleep 0.5
done
echo "blackholed for $((SECONDS - stopped_at)) s: /livez max ${live_max}s, /readyz max ${ready_max}s," \
  "/readyz first 503 after ${first_503:-never} s"
[[ -n $first_503 ]] || { echo "/readyz never turned 503 while the database was blackholed"; failures=$((failures + 1)); }
kill -0 "$worker" || { echo "the worker exited while the database was blackholed"; cat "$work/out.log"; exit 1; }

kill -CONT -- "-$proxy"
resumed_at=$SECONDS
await_ready 60
echo "ready again $((SECONDS - resumed_at)) s after the proxy resumed"
"$build/worker/pgq" --dsn "$dsn" --schema "$schema" queue bh.noop after-blackhole >/dev/null
deadline=$((SECONDS + 30))
until [[ $(psql "$dsn" -XAtqc "SELECT count(*) FROM $schema.pgqueuer_log WHERE status = 'successful'") -ge 1 ]]; do
  ((SECONDS < deadline)) || { echo "no job ran after the database came back"; cat "$work/out.log"; exit 1; }
  sleep 0.2
done
echo "a job ran after the database came back"

kill -TERM "$worker"
wait "$worker" && rc=0 || rc=$?
worker=""
[[ $rc == 0 ]] || { echo "worker exited with $rc"; cat "$work/out.log"; exit 1; }
((failures == 0)) || { echo "$failures probe failures"; exit 1; }
echo "blackhole: ok"
