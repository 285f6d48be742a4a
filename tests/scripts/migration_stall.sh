#!/usr/bin/env bash
# `pgq migrate` on a busy queue does not stall the fleet. Two workers drain a steady stream
# of jobs (pgbench enqueues at a fixed rate) while `pgq migrate` upgrades an older schema:
# a large log table missing its `_not_aggregated` index, the queue table missing
# `_ep_ea_idx`, and a trigger from an older release (no TRUNCATE). Meanwhile an open
# transaction holds ACCESS SHARE on the queue table (a long report) for several seconds, the
# lock the trigger replacement needs ACCESS EXCLUSIVE against. Without lock discipline the
# DROP TRIGGER would wait in the lock queue for that transaction and every enqueue, claim
# and completion would wait behind it; with it, the statement gives up after
# migrations.lock_timeout, backs off and retries, and the indexes build concurrently.
#
# Prints the longest enqueue (pgbench, per statement) and enqueue-to-completion time (the log's
# queued -> successful rows; a claim that waited for a lock shows there) observed while the
# migration ran, and the migration's duration; fails when a job is
# lost, when the migration did not retry, when it left the schema incomplete, or when a stall
# came anywhere near the holder's duration (it would, were the migration queueing). The
# target is a stall of at most 1 s.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR set). PGQ_STALL_LOG_ROWS sizes the log table.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools psql pgbench curl
require_build
require_database
test_workdir
log_rows=${PGQ_STALL_LOG_ROWS:-1000000}
rate=200          # jobs per second enqueued
stream_seconds=20 # how long the stream runs
hold_seconds=6    # how long the report transaction holds its lock
lock_timeout=500ms
schema="stall_$RANDOM$RANDOM"
at_exit "sql 'DROP SCHEMA IF EXISTS $schema CASCADE' >/dev/null 2>&1"
pids=()
at_exit 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true'

# --- an older schema with a large log table -------------------------------------------
PGQUEUER_DSN=$PGQ_TEST_DSN PGQUEUER_SCHEMA=$schema "$pgq" install >/dev/null 2>&1
q=$schema.pgqueuer
started=$SECONDS
sql "INSERT INTO $schema.pgqueuer_log (job_id, status, priority, entrypoint, aggregated)
     SELECT g, 'successful', 0, 'history', TRUE FROM generate_series(1, $log_rows) g"
sql "DROP INDEX $schema.pgqueuer_log_not_aggregated; DROP INDEX $schema.pgqueuer_ep_ea_idx;
     DROP TRIGGER tg_pgqueuer_changed ON $q;
     CREATE TRIGGER tg_pgqueuer_changed AFTER INSERT OR UPDATE OR DELETE ON $q
       EXECUTE FUNCTION $schema.fn_pgqueuer_changed()"
sql "VACUUM ANALYZE $schema.pgqueuer_log"
echo "older schema: $log_rows log rows ($(sql "SELECT pg_size_pretty(pg_total_relation_size('$schema.pgqueuer_log'))")), no _not_aggregated / _ep_ea_idx, trigger without TRUNCATE ($((SECONDS - started)) s to build)"

# --- the fleet ------------------------------------------------------------------------
echo "$PGQ_TEST_DSN" >"$work/dsn"
chmod 600 "$work/dsn"
ports=()
for i in 1 2; do
  port=$(free_port)
  ports+=("$port")
  cat >"$work/worker$i.yaml" <<YAML
database:
  dsn_file: $work/dsn
queue:
  schema: $schema
  batch_size: 20
entrypoints:
  stall.job:
    handler: {type: noop}
http:
  address: 127.0.0.1
  port: $port
logging:
  level: warn
migrations:
  lock_timeout: $lock_timeout
  attempts: 200
YAML
  "$pgq" run --config "$work/worker$i.yaml" >"$work/worker$i.log" 2>&1 &
  pids+=($!)
done
for port in "${ports[@]}"; do
  deadline=$((SECONDS + 60))
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { echo "FAIL worker on $port not ready"; cat "$work"/worker*.log; exit 1; }
    sleep 0.2
  done
done
echo "fleet: 2 workers ready"

# --- the stream, the report transaction, the migration --------------------------------
# An enqueue as pgq's writes it: the job and its `queued` log row in one statement.
cat >"$work/enqueue.sql" <<SQL
WITH job AS (INSERT INTO $q (priority, status, entrypoint) VALUES (0, 'queued', 'stall.job') RETURNING id, priority, entrypoint) INSERT INTO $schema.pgqueuer_log (job_id, status, priority, entrypoint) SELECT id, 'queued', priority, entrypoint FROM job;
SQL
(cd "$work" && pgbench -n -c 2 -j 2 -R "$rate" -T "$stream_seconds" -f enqueue.sql -l --log-prefix=stream \
  "$PGQ_TEST_DSN" >"$work/pgbench.out" 2>&1) &
stream=$!
pids+=("$stream")
await_sql "SELECT EXISTS (SELECT FROM $q) OR EXISTS (SELECT FROM $schema.pgqueuer_log WHERE entrypoint = 'stall.job')" 30 t
psql "$PGQ_TEST_DSN" -XAtq -c "BEGIN" -c "LOCK TABLE $q IN ACCESS SHARE MODE" -c "SELECT pg_sleep($hold_seconds)" \
  -c "COMMIT" >/dev/null 2>&1 &
holder=$!
pids+=("$holder")
await_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'pgqueuer' AND c.relnamespace = '$schema'::regnamespace AND l.mode = 'AccessShareLock' AND l.granted AND l.pid <> pg_backend_pid() AND l.pid IN (SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%')" 30 1
migrate_start=$(date +%s.%N)
sql "SELECT now()" >"$work/migrate_from"
"$pgq" migrate --config "$work/worker1.yaml" >"$work/migrate.log" 2>&1 || {
  echo "FAIL pgq migrate exited $?"
  cat "$work/migrate.log"
  exit 1
}
migrate_end=$(date +%s.%N)
sql "SELECT now()" >"$work/migrate_to"
wait "$holder" || true
wait "$stream" || { echo "FAIL pgbench"; cat "$work/pgbench.out"; exit 1; }
migration_ms=$(awk -v a="$migrate_start" -v b="$migrate_end" 'BEGIN { printf "%.0f", (b - a) * 1000 }')

# --- nothing lost, the schema complete, the stalls ------------------------------------
enqueued=$(sql "SELECT count(*) FROM $schema.pgqueuer_log WHERE entrypoint = 'stall.job' AND status = 'queued'")
((enqueued > rate * stream_seconds / 2)) || { echo "FAIL only $enqueued jobs were enqueued"; cat "$work/pgbench.out"; exit 1; }
await_sql "SELECT count(*) FROM $schema.pgqueuer_log WHERE entrypoint = 'stall.job' AND status = 'successful'" 60 "$enqueued"
await_sql "SELECT count(*) FROM $q" 30 0
retries=$(grep -c "retrying" "$work/migrate.log" || true)
from=$(cat "$work/migrate_from")
to=$(cat "$work/migrate_to")
# A claim's log row carries its statement's start time, so a claim that waited for a lock
# shows only in the completion that follows it: queued -> successful is the job's whole way
# through the fleet (claim, noop handler, batched completion).
waits() { # the later status
  sql "SELECT coalesce(round(max(extract(epoch FROM p.created - q.created)) * 1000), 0)
    FROM $schema.pgqueuer_log q JOIN $schema.pgqueuer_log p ON p.job_id = q.job_id AND p.status = '$1'
    WHERE q.status = 'queued' AND q.entrypoint = 'stall.job' AND q.created BETWEEN '$from' AND '$to'"
}
pick_ms=$(waits picked)
claim_ms=$(waits successful)
# pgbench -l: client, transaction, latency (us), script, epoch seconds, microseconds.
enqueue_ms=$(awk -v a="$migrate_start" -v b="$migrate_end" '
  { end = $5 + $6 / 1e6; start = end - $3 / 1e6 }
  end >= a && start <= b && $3 > worst { worst = $3 }
  END { printf "%.0f", worst / 1000 }' "$work"/stream.*)
sql "SELECT 1" >/dev/null
verify=$(PGQUEUER_DSN=$PGQ_TEST_DSN PGQUEUER_SCHEMA=$schema "$pgq" verify 2>&1 || true)
again=$("$pgq" migrate --config "$work/worker1.yaml" 2>&1 || true)

echo "--- pgq migrate"
cat "$work/migrate.log"
echo "---"
echo "stream: $enqueued jobs at $rate/s, all completed; migration $migration_ms ms with $retries lock retries"
echo "longest enqueue during the migration: $enqueue_ms ms; longest enqueue-to-completion: $claim_ms ms (enqueue-to-claim start $pick_ms ms); target <= 1000 ms; the report held its lock $hold_seconds s"
failed=0
((retries > 0)) || { echo "FAIL the migration never had to retry: the held lock did not meet it"; failed=1; }
[[ $verify == *"ok: every object is present"* ]] || { echo "FAIL pgq verify after the migration: $verify"; failed=1; }
[[ $again == *"schema is current"* ]] || { echo "FAIL a second migrate: $again"; failed=1; }
# A migration waiting in the lock queue would stall the fleet for the holder's whole
# duration; anything under half of it shows the lock discipline at work.
limit=$((hold_seconds * 1000 / 2))
((enqueue_ms < limit)) || { echo "FAIL enqueues stalled $enqueue_ms ms (queued behind the migration?)"; failed=1; }
((claim_ms < limit)) || { echo "FAIL claims stalled $claim_ms ms (queued behind the migration?)"; failed=1; }
((failed == 0)) && echo "migration stall: ok"
exit "$failed"
