#!/usr/bin/env bash
# /readyz turns 503 when the database is stopped, /livez stays 200, and the
# worker is ready again once the database is back; then SIGTERM exits 0.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR and the PGQ_PG_* variables set).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_build
require_database
require_tools psql curl
test_workdir
# shellcheck source=lib/worker.sh
source "$pgq_root/tests/scripts/lib/worker.sh"

schema="dbdown_$RANDOM$RANDOM"
marker="Db-Down-Secret-Marker"
AWAIT_INTERVAL=0.2

port=$(free_port)
printf '%s\n' "${PGQ_TEST_DSN/@/:$marker@}" >"$work/dsn"
noop_worker_config "$work/config.yaml" "$work/dsn" "$schema" db.noop "$port"

"$pgq" --dsn "$PGQ_TEST_DSN" --schema "$schema" install >/dev/null
worker_start_ready worker "$work/config.yaml" "$port" 30
echo "ready; stopping PostgreSQL"
pgq_pg_halt
worker_await worker 503 30
echo "readyz while the database is down: $(cat "$work/worker.readyz")"
grep -q '"ok":false' "$work/worker.readyz" || fail "the 503 body has no failed check"
[[ $(http_code "$port" /livez) == 200 ]] || fail "livez failed while the database was down"
pgq_pg_resume
worker_await worker 200 60
echo "ready again after the database came back"

worker_stop worker
if grep -q "$marker" "$(worker_log worker)"; then
  fail "the password leaked into the worker's output"
fi
sql "DROP SCHEMA $schema CASCADE"
echo "worker database down: ok"
