#!/usr/bin/env bash
# What one worker costs per 1,000 jobs, for sizing requests, limits and the HPA's CPU target
# (docs/deployment.md, "Sizing"). Not in CI: it prints numbers, it asserts none. For each
# handler kind (noop; exec of `cat`; http POST to a local endpoint that answers 204) it starts
# one `pgq run` (queue.batch_size 10, max_concurrent_tasks 20), inserts JOBS jobs at once as a
# producer would (jobs and their queued log rows), lets the worker drain them, and reads from
# /proc: the worker's CPU seconds (utime + stime, children included for exec) and its peak RSS
# (VmHWM), plus the wall time. Prints one JSON row per kind and a table.
#
#   bench/sizing/sizing.sh build/worker/pgq              (its own throwaway PostgreSQL)
#   JOBS=5000 KINDS="noop exec http" bench/sizing/sizing.sh build/worker/pgq
#
# Needs psql, curl, python3 (the local HTTP endpoint), the PostgreSQL server packages.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
pgq=$(realpath "${1:?usage: bench/sizing/sizing.sh PATH_TO_PGQ}")
jobs=${JOBS:-5000}
kinds=${KINDS:-noop exec http}
# shellcheck source=../../ci/lib/postgres.sh
source "$root/ci/lib/postgres.sh"
# shellcheck source=../../ci/lib/ports.sh
source "$root/ci/lib/ports.sh"
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
pgq_pg_start >/dev/null
sql() { PGOPTIONS="-c client_min_messages=warning" psql "$PGQ_TEST_DSN" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
ticks=$(getconf CLK_TCK)
cpu_seconds() { # utime + stime + cutime + cstime of PID, in seconds
  awk -v t="$ticks" '{sub(/^.*\) /, ""); print ($12 + $13 + $14 + $15) / t}' "/proc/$1/stat"
}

http_port=$(pgq_free_port)
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
' "$http_port" &
pids+=($!)

printf '%s\n' "$PGQ_TEST_DSN" >"$work/dsn"
rows=()
for kind in $kinds; do
  case $kind in
    noop) handler='{type: noop}' ;;
    exec) handler='{type: exec, command: [cat]}' ;;
    http) handler="{type: http, url: \"http://127.0.0.1:$http_port/job\"}" ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
  esac
  schema=sizing_$kind
  sql "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
  PGQUEUER_DSN=$PGQ_TEST_DSN PGQUEUER_SCHEMA=$schema "$pgq" install >/dev/null
  port=$(pgq_free_port)
  cat >"$work/$kind.yaml" <<YAML
database: {dsn_file: $work/dsn}
queue: {schema: $schema, batch_size: 10, max_concurrent_tasks: 20}
retention: {log_older_than: 0s, held_older_than: 0s, statistics_older_than: 0s}
entrypoints:
  sizing.job:
    handler: $handler
http: {address: 127.0.0.1, port: $port}
logging: {level: warn, format: text}
YAML
  "$pgq" run --config "$work/$kind.yaml" >"$work/$kind.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  until curl -fs "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
  sleep 2
  idle_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  before=$(cpu_seconds "$pid")
  start=$(date +%s%N)
  sql "WITH job AS (INSERT INTO $schema.pgqueuer (priority, entrypoint, payload, execute_after, status)
         SELECT 0, 'sizing.job', convert_to('payload ' || g, 'UTF8'), now(), 'queued'
         FROM generate_series(1, $jobs) g RETURNING id, priority, entrypoint)
       INSERT INTO $schema.pgqueuer_log (job_id, status, priority, entrypoint)
       SELECT id, 'queued', priority, entrypoint FROM job" >/dev/null
  until [[ $(sql "SELECT count(*) FROM $schema.pgqueuer") == 0 ]]; do sleep 0.1; done
  end=$(date +%s%N)
  after=$(cpu_seconds "$pid")
  hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
  done_jobs=$(sql "SELECT count(*) FROM $schema.pgqueuer_log WHERE status = 'successful'")
  kill -TERM "$pid"
  wait "$pid" || true
  rows+=("$(awk -v k="$kind" -v n="$jobs" -v ok="$done_jobs" -v c0="$before" -v c1="$after" \
    -v ns="$((end - start))" -v idle="$idle_kb" -v hwm="$hwm_kb" 'BEGIN {
      s = ns / 1e9
      printf "{\"handler\": \"%s\", \"jobs\": %d, \"successful\": %d, \"seconds\": %.2f, \"jobs_per_second\": %.0f, \"cpu_seconds_per_1000_jobs\": %.3f, \"cpu_cores_while_draining\": %.2f, \"rss_idle_mib\": %.1f, \"rss_peak_mib\": %.1f}",
        k, n, ok, s, n / s, (c1 - c0) * 1000 / n, (c1 - c0) / s, idle / 1024, hwm / 1024 }')")
  echo "${rows[-1]}"
  sql "DROP SCHEMA $schema CASCADE" >/dev/null
done
echo
echo "| handler | jobs/s (one worker) | CPU s per 1,000 jobs | cores while draining | RSS idle | RSS peak |"
echo "|---|---|---|---|---|---|"
for row in "${rows[@]}"; do
  node -e 'const r = JSON.parse(process.argv[1]); console.log(`| ${r.handler} | ${r.jobs_per_second} | ${r.cpu_seconds_per_1000_jobs} | ${r.cpu_cores_while_draining} | ${r.rss_idle_mib} MiB | ${r.rss_peak_mib} MiB |`)' "$row"
done
