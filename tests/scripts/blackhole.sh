#!/usr/bin/env bash
# Probes answer in time whatever the database does. The worker reaches PostgreSQL through a
# TCP proxy (socat, in its own process group); SIGSTOP of that group blackholes every
# connection, open or new (the kernel still accepts and buffers, nothing answers). While it
# is stopped both endpoints are probed: /livez must stay 200 under 1 s, /readyz must answer
# within the chart's 2 s probe timeout and turn 503. After SIGCONT the worker must be ready
# again and run a job. Prints the measured latencies. About 25 s of wall time.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR and the PGQ_PG_* variables set).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_build
require_database
require_tools socat psql curl
test_workdir
schema="blackhole_$RANDOM$RANDOM"
at_exit 'sql "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1' # after the worker's end
# shellcheck source=lib/worker.sh
source "$pgq_root/tests/scripts/lib/worker.sh"

AWAIT_INTERVAL=0.2

http_port=$(free_port)
pg_proxy_start
printf '%s\n' "$proxy_dsn" >"$work/dsn"
noop_worker_config "$work/config.yaml" "$work/dsn" "$schema" bh.noop "$http_port" "connect_timeout: 2s"
"$pgq" --dsn "$PGQ_TEST_DSN" --schema "$schema" install >/dev/null
worker_start_ready worker "$work/config.yaml" "$http_port" 30
echo "ready through the proxy; blackholing it (SIGSTOP of socat's process group)"

# probe PATH -> "CODE SECONDS" (a longer limit than http_code: the time is the measurement)
probe() { curl -s -o "$work/body" --max-time 10 -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$http_port$1" || true; }
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
  sleep 0.5 # the pace of the probe rounds, not an assertion
done
echo "blackholed for $((SECONDS - stopped_at)) s: /livez max ${live_max}s, /readyz max ${ready_max}s," \
  "/readyz first 503 after ${first_503:-never} s"
[[ -n $first_503 ]] || { echo "/readyz never turned 503 while the database was blackholed"; failures=$((failures + 1)); }
worker_alive worker

kill -CONT -- "-$proxy"
resumed_at=$SECONDS
worker_await worker 200 60
echo "ready again $((SECONDS - resumed_at)) s after the proxy resumed"
"$pgq" --dsn "$PGQ_TEST_DSN" --schema "$schema" queue bh.noop after-blackhole >/dev/null
await_sql "SELECT count(*) >= 1 FROM $schema.pgqueuer_log WHERE status = 'successful'" 30 t
echo "a job ran after the database came back"

worker_stop worker
((failures == 0)) || fail "$failures probe failures"
echo "blackhole: ok"
