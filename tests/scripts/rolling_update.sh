#!/usr/bin/env bash
# Rolling updates (N/N-1): during a rollout the previous release's workers keep running on
# the schema the new release's migration Job leaves. With pgq 0.1.0 (the previous release,
# built once from git by lib/previous_release.sh) and this build:
#   1. 0.1.0's `pgq migrate` installs the schema and a 0.1.0 worker consumes a steady stream;
#   2. this build's `pgq migrate` runs against it while that worker works (the chart's
#      pre-upgrade hook), exits 0 and leaves the old worker ready;
#   3. a new worker joins beside the old one; both consume the same entrypoint from the
#      stream, then the old one drains and stops (SIGTERM, exit 0) as a rollout does;
#   4. every job enqueued ran exactly once (one successful log row per job) and none is left
#      queued or picked.
# By hand: source ci/lib/postgres.sh && pgq_pg_start && PGQ_BUILD_DIR=$PWD/build \
#   bash tests/scripts/rolling_update.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/worker.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/previous_release.sh"
require_tools psql curl git cmake ninja
require_build
require_database
test_workdir "" keep-on-failure

previous_release_build
echo "ok   previous release: $("$previous_pgq" --version 2>&1) (${previous_release_commit:0:10}); new: $("$pgq" --version 2>&1)"

schema="ru_$RANDOM$RANDOM"
table=$schema.pgqueuer
at_exit "sql 'DROP SCHEMA IF EXISTS $schema CASCADE' >/dev/null 2>&1"
printf '%s\n' "$PGQ_TEST_DSN" >"$work/dsn"
chmod 600 "$work/dsn"
old_port=$(free_port)
new_port=$(free_port)
noop_worker_config "$work/old.yaml" "$work/dsn" "$schema" ru.noop "$old_port"
noop_worker_config "$work/new.yaml" "$work/dsn" "$schema" ru.noop "$new_port"

# A producer's batch insert as pgq writes it: the jobs and their `queued` log rows in one
# statement (the trigger notifies), so the log counts what was enqueued.
enqueue() { # COUNT jobs of ru.noop
  sql "WITH job AS (INSERT INTO $table (priority, entrypoint, payload, execute_after, status)
         SELECT 0, 'ru.noop', NULL, now(), 'queued' FROM generate_series(1, $1)
         RETURNING id, priority, entrypoint)
       INSERT INTO $schema.pgqueuer_log (job_id, status, priority, entrypoint)
       SELECT id, 'queued', priority, entrypoint FROM job" >/dev/null
}
producer_pid=
producer() { # 20 jobs every 0.1 s until SIGTERM, which ends it between two batches
  local stop=0
  trap 'stop=1' TERM
  while ((stop == 0)); do
    enqueue 20
    sleep 0.1
  done
}
producer_stop() {
  [[ -n $producer_pid ]] || return 0
  kill "$producer_pid" 2>/dev/null || true
  wait "$producer_pid" 2>/dev/null || true
  producer_pid=
}
at_exit producer_stop
log_count() { sql_value "SELECT count(*) FROM $schema.pgqueuer_log WHERE status = '$1'"; }
jobs_done_by() { # the worker's pgq_jobs_total{outcome="successful"} from /metrics
  curl -s -m 5 "http://127.0.0.1:${worker_port[$1]}/metrics" |
    awk '/^pgq_jobs_total\{.*successful/ {n += $2} END {print n + 0}'
}

# --- 1. the previous release installs and consumes -----------------------------------------
"$previous_pgq" migrate --config "$work/old.yaml" >"$work/old-migrate.log" 2>&1 ||
  fail "pgq $previous_release_version migrate failed: $(tail -n 3 "$work/old-migrate.log")"
worker_port[old]=$old_port
worker_spawn old "$previous_pgq" run --config "$work/old.yaml"
worker_await old 200 30
enqueue 50
await_sql "SELECT count(*) FROM $schema.pgqueuer_log WHERE status = 'successful'" 30 50
echo "ok   pgq $previous_release_version installed the schema and its worker ran 50 jobs"

# --- 2. the new release migrates under the old worker -------------------------------------
producer &
producer_pid=$!
migrate_start=$SECONDS
"$pgq" migrate --config "$work/new.yaml" >"$work/new-migrate.log" 2>&1 ||
  fail "the new pgq migrate failed on pgq $previous_release_version's schema: $(tail -n 3 "$work/new-migrate.log")"
echo "ok   new pgq migrate on the running fleet: exit 0 in $((SECONDS - migrate_start)) s ($(grep -m1 'schema is current' "$work/new-migrate.log" || tail -n 1 "$work/new-migrate.log"))"
worker_ready old 200 || fail "the old worker is not ready after the migration: $(cat "$work/old.readyz")"
echo "ok   the pgq $previous_release_version worker stays ready on the migrated schema"

# --- 3. a new worker joins; the old one drains and leaves ----------------------------------
worker_start new "$work/new.yaml" "$new_port"
worker_await new 200 30
before_old=$(jobs_done_by old)
before_new=$(jobs_done_by new)
poll 60 eval '(( $(jobs_done_by old) > before_old + 20 && $(jobs_done_by new) > before_new + 20 ))' ||
  fail "both releases must consume side by side (old ran $(($(jobs_done_by old) - before_old)), new $(($(jobs_done_by new) - before_new)) since the new one joined)"
echo "ok   side by side: both releases consume the stream"
worker_stop old
echo "ok   the pgq $previous_release_version worker drained and exited 0 on SIGTERM while the stream went on"
producer_stop

# --- 4. every job ran exactly once ------------------------------------------------------------
await_sql "SELECT count(*) FROM $table" 60 0
enqueued=$(log_count queued)
done_count=$(log_count successful)
[[ $done_count == "$enqueued" ]] ||
  fail "$enqueued jobs enqueued, $done_count successful log rows"
twice=$(sql_value "SELECT count(*) FROM (SELECT job_id FROM $schema.pgqueuer_log
                   WHERE status = 'successful' GROUP BY job_id HAVING count(*) > 1) t")
[[ $twice == 0 ]] || fail "$twice jobs ran more than once"
never=$(sql_value "SELECT count(*) FROM $schema.pgqueuer_log q WHERE q.status = 'queued' AND NOT EXISTS
                   (SELECT FROM $schema.pgqueuer_log s WHERE s.job_id = q.job_id AND s.status = 'successful')")
[[ $never == 0 ]] || fail "$never enqueued jobs never succeeded"
new_total=$(jobs_done_by new)
worker_stop new
echo "ok   $enqueued jobs, each ran once ($new_total by the new release); nothing left queued or picked"
echo "rolling_update: ok"
