#!/usr/bin/env bash
# The server restarts in the middle of 5,000 jobs: every job must still end
# with exactly one `successful` log row, and nothing may stay queued or picked.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR and the PGQ_PG_* variables set).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_build
require_database
require_tools psql
test_workdir
# shellcheck source=lib/worker.sh
source "$pgq_root/tests/scripts/lib/worker.sh"

schema="resilience_$RANDOM$RANDOM"
export PGQUEUER_DSN=$PGQ_TEST_DSN PGQUEUER_SCHEMA=$schema
jobs=5000
AWAIT_INTERVAL=0.2

"$pgq" install >/dev/null
"$build/examples/producer_sync" "$jobs" resilience.job
worker_spawn consumer "$build/tests/resilience_consumer" resilience.job
log=$(worker_log consumer)

await_sql "SELECT count(*) >= 500 FROM $schema.pgqueuer_log WHERE status = 'successful'" 60 t
echo "restarting PostgreSQL with $(sql_value "SELECT count(*) FROM $schema.pgqueuer WHERE status = 'queued'") jobs still queued"
pgq_pg_restart
echo "server is back"

await_sql "SELECT count(DISTINCT job_id) FROM $schema.pgqueuer_log WHERE status = 'successful'" 180 "$jobs"
worker_stop consumer

dupes=$(sql_value "SELECT count(*) FROM (SELECT job_id FROM $schema.pgqueuer_log WHERE status = 'successful' GROUP BY job_id HAVING count(*) <> 1) d")
left=$(sql_value "SELECT count(*) FROM $schema.pgqueuer")
reconnects=$(grep -c "failed\|reconnect" "$log" || true)
sql "DROP SCHEMA $schema CASCADE" >/dev/null
echo "jobs=$jobs successful_once=$((jobs - dupes)) duplicates=$dupes left_in_queue=$left consumer_warnings=$reconnects"
[[ $dupes == 0 && $left == 0 ]] || fail "duplicates=$dupes left_in_queue=$left (both must be 0)"
echo "restart resilience: ok"
