#!/usr/bin/env bash
# The server restarts in the middle of 5,000 jobs: every job must still end
# with exactly one `successful` log row, and nothing may stay queued or picked.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR and the PGQ_PG_* variables set).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../../ci/lib/postgres.sh
source "$root/ci/lib/postgres.sh"

build=${PGQ_BUILD_DIR:?run through ci/test}
schema="resilience_$RANDOM$RANDOM"
export PGQUEUER_DSN=$PGQ_TEST_DSN PGQUEUER_SCHEMA=$schema
jobs=5000
sql() { PGOPTIONS="-c client_min_messages=warning" psql "$PGQ_TEST_DSN" -XAtqc "$1"; }
# Waits up to $2 seconds for query $1 to print $3 (polling, no fixed sleeps).
await() {
  local deadline=$((SECONDS + $2))
  until [[ $(sql "$1" 2>/dev/null || true) == "$3" ]]; do
    ((SECONDS < deadline)) || { echo "timed out waiting for: $1 = $3 (now: $(sql "$1" 2>&1 || true))"; return 1; }
    sleep 0.2
  done
}

"$build/worker/pgq" install >/dev/null
"$build/examples/producer_sync" "$jobs" resilience.job
log=$(mktemp)
"$build/tests/resilience_consumer" resilience.job >"$log" 2>&1 &
consumer=$!
trap 'kill "$consumer" 2>/dev/null || true; rm -f "$log"' EXIT

successful="SELECT count(*) >= 500 FROM $schema.pgqueuer_log WHERE status = 'successful'"
await "$successful" 60 t
echo "restarting PostgreSQL with $(sql "SELECT count(*) FROM $schema.pgqueuer WHERE status = 'queued'") jobs still queued"
pgq_pg_restart
echo "server is back"

await "SELECT count(DISTINCT job_id) FROM $schema.pgqueuer_log WHERE status = 'successful'" 180 "$jobs"
kill -TERM "$consumer"
wait "$consumer" || { echo "consumer exited with $?"; cat "$log"; exit 1; }

dupes=$(sql "SELECT count(*) FROM (SELECT job_id FROM $schema.pgqueuer_log WHERE status = 'successful' GROUP BY job_id HAVING count(*) <> 1) d")
left=$(sql "SELECT count(*) FROM $schema.pgqueuer")
reconnects=$(grep -c "failed\|reconnect" "$log" || true)
sql "DROP SCHEMA $schema CASCADE" >/dev/null
echo "jobs=$jobs successful_once=$(( jobs - dupes )) duplicates=$dupes left_in_queue=$left consumer_warnings=$reconnects"
[[ $dupes == 0 && $left == 0 ]]
echo "restart resilience: ok"
