#!/usr/bin/env bash
# Cost of pruning a log backlog while a fleet drains at full speed
# (docs/benchmarks.md, "Pruning a log backlog while the fleet drains").
#
#   bench/retention/prune_during_drain.sh [PGQ_BINARY]
#
# Starts its own throwaway PostgreSQL, installs pgq with the autovacuum preset,
# writes ROWS (default 2,000,000) aggregated log rows of finished jobs, eight
# days old, then: drains DRAIN_JOBS jobs ROUNDS times without pruning; starts
# `pgq prune --log-older-than 7d` and drains the same way until the prune
# ends. Prints drain rates with and without pruning, the prune's own report,
# and the log's size, dead tuples and autovacuum activity before and after.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
pgq=${1:-$here/build/worker/pgq}
rows=${ROWS:-2000000}
drain_jobs=${DRAIN_JOBS:-100000}
rounds=${ROUNDS:-3}
consumers=${CONSUMERS:-4}
batch=${BATCH:-100}
prune_batch=${PRUNE_BATCH:-5000}

# shellcheck source=ci/lib/postgres.sh
source "$here/ci/lib/postgres.sh"
pgq_pg_start
dsn=$PGQ_TEST_DSN
q() { psql "$dsn" -qAtX -c "$1"; }

"$pgq" --dsn "$dsn" install >/dev/null
"$pgq" --dsn "$dsn" autovac >/dev/null

echo "== writing $rows log rows of finished, aggregated jobs, 8 days old"
t0=$(date +%s.%N)
q "INSERT INTO pgqueuer_log (created, job_id, status, priority, entrypoint, aggregated)
   SELECT NOW() - INTERVAL '8 days' + i * INTERVAL '1 ms', 1000000000 + i / 3,
          (ARRAY['queued','picked','successful'])[i % 3 + 1]::pgqueuer_status, 0, 'backlog', TRUE
   FROM generate_series(0, $rows - 1) AS i"
q "VACUUM ANALYZE pgqueuer_log"
q "CHECKPOINT"
echo "   took $(echo "$(date +%s.%N) - $t0" | bc) s"

state() {
  q "SELECT format('%s: log %s rows (estimate %s), %s on disk (heap %s), dead tuples %s, autovacuum runs %s, autoanalyze runs %s, last autovacuum %s',
       '$1', (SELECT count(*) FROM pgqueuer_log), c.reltuples::bigint,
       pg_size_pretty(pg_total_relation_size(c.oid)), pg_size_pretty(pg_relation_size(c.oid)),
       s.n_dead_tup, s.autovacuum_count, s.autoanalyze_count, COALESCE(s.last_autovacuum::text, 'never'))
     FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'pgqueuer_log'::regclass"
}

drain() {
  "$pgq" --dsn "$dsn" bench --strategy drain --jobs "$drain_jobs" --consumers "$consumers" \
    --batch "$batch" 2>/dev/null | sed -nE 's/.*"rate": *([0-9.]+).*/\1/p'
}

state "before"
echo "== drain without pruning: $rounds x $drain_jobs jobs, $consumers consumers x batch $batch"
without=()
for _ in $(seq 1 "$rounds"); do
  r=$(drain)
  without+=("$r")
  echo "   $r jobs/s"
done

echo "== drain while pgq prune --log-older-than 7d --batch $prune_batch runs"
"$pgq" --dsn "$dsn" prune --log-older-than 7d --batch "$prune_batch" >"$PGQ_PG_DIR/prune.out" 2>&1 &
prune_pid=$!
with=()
while kill -0 "$prune_pid" 2>/dev/null; do
  r=$(drain)
  with+=("$r")
  echo "   $r jobs/s"
done
wait "$prune_pid"
sed 's/^/   prune: /' "$PGQ_PG_DIR/prune.out"
state "after the prune"

mean() { printf '%s\n' "$@" | awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "n/a" }'; }
echo "== summary: drain without pruning $(mean "${without[@]}") jobs/s (${#without[@]} runs), while pruning $(mean "${with[@]}") jobs/s (${#with[@]} runs)"

echo "== waiting up to 120 s for autovacuum of the log"
for _ in $(seq 1 60); do
  [[ $(q "SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'pgqueuer_log'::regclass") -gt 0 ]] && break
  sleep 2
done
state "2 min later"
