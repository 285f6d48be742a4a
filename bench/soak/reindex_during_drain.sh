#!/usr/bin/env bash
# The reindex remedy measured (docs/benchmarks.md, "Rebuilding bloated
# indexes while the fleet works"): how long `pgq prune --reindex-bloated`
# takes on a bloated log, how much it reclaims, and whether claims stall.
# Not run in CI.
#
#   bench/soak/reindex_during_drain.sh [PGQ_BINARY]
#
# Starts its own durable PostgreSQL 15, installs pgq, writes ROWS (3,000,000)
# aggregated log rows and deletes 99 % of them spread evenly (every job but
# each hundredth), as finished jobs pruned around long-held ones leave the
# log, then VACUUMs: the indexes keep their pages with few entries each.
# Starts WORKERS (2) noop workers and a producer of RATE (300) jobs/s, waits
# WARMUP (30 s), runs the reindex, waits as long again, and prints each
# index's size before and after, the reindex's duration, and, for the jobs
# enqueued before, during and after it, the longest wait from enqueue to
# claim and the longest gap between two consecutive claims (from the log's
# 'queued' and 'picked' rows).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
pgq=${1:-$here/build/worker/pgq}
rows=${ROWS:-3000000}
rate=${RATE:-300}
workers=${WORKERS:-2}
warmup=${WARMUP:-30}
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

echo "== bloating the log: $rows rows, 99 % deleted evenly, then VACUUM"
q "INSERT INTO pgqueuer_log (created, job_id, status, priority, entrypoint, aggregated)
   SELECT NOW() - INTERVAL '1 day' + i * INTERVAL '1 ms', 1000000000 + i / 3,
          (ARRAY['queued','picked','successful'])[i % 3 + 1]::pgqueuer_status, 0, 'old', TRUE
   FROM generate_series(0, $rows - 1) AS i"
q "DELETE FROM pgqueuer_log WHERE job_id % 100 <> 0 AND entrypoint = 'old'"
q "VACUUM ANALYZE pgqueuer_log"
q "CHECKPOINT"
sizes() {
  q "SELECT format('%-32s %8s', c.relname, pg_size_pretty(pg_relation_size(c.oid)))
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid IN ('pgqueuer'::regclass, 'pgqueuer_log'::regclass) ORDER BY 1"
}
echo "== index sizes before ($(q "SELECT count(*) FROM pgqueuer_log") live log rows; log total $(q "SELECT pg_size_pretty(pg_total_relation_size('pgqueuer_log'))"))"
sizes | sed 's/^/   /'

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap 'cleanup; pgq_pg_stop' EXIT
for i in $(seq 1 "$workers"); do
  port=$(pgq_free_port)
  cat >"$out/worker$i.yaml" <<YAML
database: {host: 127.0.0.1, port: $PGQ_PG_PORT, dbname: postgres, user: postgres}
queue: {batch_size: 20}
entrypoints:
  drain.noop: {handler: {type: noop}}
http: {address: 127.0.0.1, port: $port}
logging: {level: info, format: text}
YAML
  "$pgq" run --config "$out/worker$i.yaml" >"$out/worker$i.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
done

per_tick=$((rate / 10))
producer() {
  while :; do
    cat <<SQL
WITH ins AS (INSERT INTO pgqueuer (priority, entrypoint, payload, status)
             SELECT 0, 'drain.noop', NULL, 'queued' FROM generate_series(1, $per_tick) RETURNING id, entrypoint, priority)
INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority) SELECT id, 'queued', entrypoint, priority FROM ins;
SQL
    sleep 0.1
  done
}
producer | psql "$dsn" -qAtX -v ON_ERROR_STOP=1 >/dev/null 2>&1 &
producer_pid=$!
pids+=("$producer_pid")

sleep "$warmup"
t0=$(q "SELECT clock_timestamp()")
echo "== pgq prune --reindex-bloated --reindex-min-size 0 while $workers workers claim $rate jobs/s"
/usr/bin/time -f "   wall %e s" "$pgq" --dsn "$dsn" prune --reindex-bloated --reindex-min-size 0 \
  --lock-timeout 1s 2>&1 | sed 's/^/   /'
t1=$(q "SELECT clock_timestamp()")
sleep "$warmup"
kill "$producer_pid" 2>/dev/null || true
t2=$(q "SELECT clock_timestamp()")

echo "== index sizes after"
sizes | sed 's/^/   /'
echo "== claims (jobs enqueued in each window; wait = enqueue to claim, gap = between two claims)"
q "WITH w(name, ord, lo, hi) AS (VALUES ('before', 0, '$t0'::timestamptz - INTERVAL '$warmup s', '$t0'::timestamptz),
                                  ('during', 1, '$t0'::timestamptz, '$t1'::timestamptz),
                                  ('after', 2, '$t1'::timestamptz, '$t2'::timestamptz)),
   picks AS (SELECT p.created AS picked, p.created - qd.created AS wait
             FROM pgqueuer_log p JOIN pgqueuer_log qd ON qd.job_id = p.job_id AND qd.status = 'queued'
             WHERE p.status = 'picked' AND p.entrypoint = 'drain.noop'),
   gaps AS (SELECT picked, picked - lag(picked) OVER (ORDER BY picked) AS gap FROM picks)
   SELECT format('%-7s %6s jobs claimed, longest wait %s ms, p99 wait %s ms, longest gap between claims %s ms',
            w.name,
            (SELECT count(*) FROM picks WHERE picked >= w.lo AND picked < w.hi),
            (SELECT round(extract(epoch FROM max(wait)) * 1000) FROM picks WHERE picked >= w.lo AND picked < w.hi),
            (SELECT round((extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY wait))) * 1000) FROM picks WHERE picked >= w.lo AND picked < w.hi),
            (SELECT round(extract(epoch FROM max(gap)) * 1000) FROM gaps WHERE picked >= w.lo AND picked < w.hi))
   FROM w ORDER BY w.ord" | sed 's/^/   /'
