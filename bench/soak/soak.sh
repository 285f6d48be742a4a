#!/usr/bin/env bash
# Soak: does a fleet under steady mixed load stay bounded, in its processes
# and in its tables? (docs/benchmarks.md, "Soak: bounded for real").
# Not run in CI: it takes DURATION (default 20 minutes).
#
#   bench/soak/soak.sh [PGQ_BINARY]
#
# Starts its own durable PostgreSQL 15 (fsync, synchronous_commit and
# full_page_writes on), installs pgq (durable) with the autovacuum preset,
# starts WORKERS (2) `pgq run` workers and a producer of RATE (300) jobs/s:
# 80 % noop, 15 % exec (`cat`), 5 % an exec that fails every fifth job,
# retried twice, then held (on_failure: hold), so 1 % of jobs are held; a
# schedule every 5 s; retention log 2m, statistics 10m, held HELD_OLDER_THAN
# (3m; 0s keeps held jobs, as before held-job retention), every 15 s.
# Every SAMPLE seconds (30) it writes one line to OUT_DIR/samples.csv: per
# worker RSS, threads, FDs, zombie children and connections; backlog and held
# jobs; rows and bytes of the queue and log tables and of each of their
# indexes; leaf pages and average leaf density of the log's primary key
# (pgstattuple). Then a summary: growth of the log's total size and of the
# index leaf pages over the last 10 minutes, the workers' RSS slope over the
# last 10 minutes (least squares), maxima of threads/FDs/zombies/connections,
# and the jobs accounted for.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
pgq=${1:-$here/build/worker/pgq}
duration=${DURATION:-1200}
rate=${RATE:-300}
workers=${WORKERS:-2}
sample=${SAMPLE:-30}
held_older_than=${HELD_OLDER_THAN:-3m}
out=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$out"

# shellcheck source=ci/lib/postgres.sh
source "$here/ci/lib/postgres.sh"
# shellcheck source=ci/lib/ports.sh
source "$here/ci/lib/ports.sh"
export PGQ_PG_EXTRA_CONF="fsync = on
synchronous_commit = on
full_page_writes = on"
pgq_pg_start
dsn=$PGQ_TEST_DSN
q() { psql "$dsn" -qAtX -c "$1"; }

"$pgq" --dsn "$dsn" install --durability durable >/dev/null
"$pgq" --dsn "$dsn" autovac >/dev/null
q "CREATE EXTENSION IF NOT EXISTS pgstattuple" >/dev/null

pids=()
ports=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'cleanup; pgq_pg_stop' EXIT

for i in $(seq 1 "$workers"); do
  port=$(pgq_free_port)
  ports+=("$port")
  cat >"$out/worker$i.yaml" <<YAML
database:
  host: 127.0.0.1
  port: $PGQ_PG_PORT
  dbname: postgres
  user: postgres
  application_name: soak-worker-$i
pool: {max_size: 10}
queue: {batch_size: 20}
entrypoints:
  soak.noop: {handler: {type: noop}}
  soak.exec: {handler: {type: exec, command: ["/bin/sh", "-c", "cat >/dev/null"]}}
  soak.flaky:
    handler: {type: exec, command: ["/bin/sh", "-c", "n=\$(cat); [ \$((n % 5)) -ne 0 ]"]}
    on_failure: hold
    retry: {max_attempts: 2, initial_delay: 1s}
schedules:
  soak.tick: {cron: "* * * * * */5", handler: {type: noop}}
http: {address: 127.0.0.1, port: $port}
logging: {level: info, format: text}
retention:
  log_older_than: 2m
  statistics_older_than: 10m
  held_older_than: $held_older_than
  interval: 15s
YAML
  "$pgq" run --config "$out/worker$i.yaml" >"$out/worker$i.log" 2>&1 &
  pids+=($!)
done
for port in "${ports[@]}"; do
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null
done

# The producer: one psql session, one multi-row enqueue (with its 'queued'
# log rows, as pgq's enqueue writes them) about every 100 ms, sized so that
# the total keeps up with RATE whatever each statement's commit costs.
# Payload: a counter; soak.flaky fails when its counter is divisible by 5.
producer() {
  local produced=0 start=${EPOCHREALTIME/./} now want deadline=$((SECONDS + duration))
  while ((SECONDS < deadline)); do
    now=${EPOCHREALTIME/./}
    want=$(((now - start) * rate / 1000000))
    if ((want > produced)); then
      cat <<SQL
WITH input AS (SELECT g AS n, CASE WHEN g % 20 = 0 THEN 'soak.flaky' WHEN g % 20 < 4 THEN 'soak.exec' ELSE 'soak.noop' END AS ep
               FROM generate_series($produced, $((want - 1))) g),
ins AS (INSERT INTO pgqueuer (priority, entrypoint, payload, status)
        SELECT 0, ep, convert_to((n / 20)::text, 'UTF8'), 'queued' FROM input RETURNING id, entrypoint, priority)
INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority) SELECT id, 'queued', entrypoint, priority FROM ins;
SQL
      produced=$want
    fi
    sleep 0.1
  done
  echo "SELECT 'produced', $produced;"
}
producer | psql "$dsn" -qAtX -v ON_ERROR_STOP=1 >"$out/producer.out" &
producer_pid=$!

index_list="SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid IN ('pgqueuer'::regclass, 'pgqueuer_log'::regclass) ORDER BY i.indrelid, c.relname"
indexes=$(q "$index_list" | tr '\n' ' ')
{
  printf 'elapsed_s'
  for i in $(seq 1 "$workers"); do printf ',w%d_rss_kib,w%d_threads,w%d_fds,w%d_zombies,w%d_conns' "$i" "$i" "$i" "$i" "$i"; done
  printf ',backlog,held,queue_rows,queue_bytes,log_rows,log_bytes,log_heap_bytes,log_pk_leaf_pages,log_pk_leaf_density,statistics_rows'
  for ix in $indexes; do printf ',%s' "$ix"; done
  printf '\n'
} >"$out/samples.csv"

take_sample() {
  local elapsed=$1 i pid line
  line=$elapsed
  for i in $(seq 1 "$workers"); do
    pid=${pids[$((i - 1))]}
    line+=,$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
    line+=,$(awk '/^Threads/ {print $2}' "/proc/$pid/status")
    line+=,$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    # shellcheck disable=SC2009  # the children's state, not a process search
    line+=,$(ps -o stat= --ppid "$pid" | grep -c '^Z' || true)
    line+=,$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'soak-worker-$i'")
  done
  line+=,$(q "SELECT format('%s,%s,%s,%s,%s,%s,%s,%s,%s,%s',
     (SELECT count(*) FROM pgqueuer WHERE status IN ('queued', 'picked')),
     (SELECT count(*) FROM pgqueuer WHERE status = 'failed'),
     (SELECT count(*) FROM pgqueuer), pg_total_relation_size('pgqueuer'),
     (SELECT count(*) FROM pgqueuer_log), pg_total_relation_size('pgqueuer_log'),
     pg_relation_size('pgqueuer_log'), s.leaf_pages, s.avg_leaf_density,
     (SELECT count(*) FROM pgqueuer_statistics))
     FROM pgstatindex('pgqueuer_log_pkey') s")
  # Every index in one round trip, in the header's order.
  line+=,$(q "SELECT string_agg(pg_relation_size(c.oid)::text, ',' ORDER BY i.indrelid, c.relname)
              FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid IN ('pgqueuer'::regclass, 'pgqueuer_log'::regclass)")
  echo "$line" >>"$out/samples.csv"
}

echo "soak: $workers workers, $rate jobs/s, held_older_than $held_older_than, ${duration}s; samples in $out/samples.csv"
start=$SECONDS
next=0
while kill -0 "$producer_pid" 2>/dev/null; do
  if ((SECONDS - start >= next)); then
    take_sample $((SECONDS - start))
    tail -n 1 "$out/samples.csv" | cut -d, -f1-12
    next=$((next + sample))
  fi
  sleep 1
done
wait "$producer_pid"
produced=$(awk -F'|' '/^produced/ {print $2}' "$out/producer.out")
# Let the fleet finish what is queued (retries included) before counting.
for _ in $(seq 1 120); do
  [[ $(q "SELECT count(*) FROM pgqueuer WHERE status IN ('queued', 'picked')") == 0 ]] && break
  sleep 1
done
take_sample $((SECONDS - start))
for port in "${ports[@]}"; do curl -fsS "http://127.0.0.1:$port/metrics"; done >"$out/metrics.txt"
grep -E '^pgq_(pruned_rows_total|jobs_total)' "$out/metrics.txt" >"$out/counters.txt" || true

node "$here/bench/soak/summary.mjs" "$out/samples.csv" "$out/counters.txt" "$produced" "$workers" \
  | tee "$out/summary.txt"
