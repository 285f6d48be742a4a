#!/usr/bin/env bash
# Interop suite: pgq against the real PgQueuer 1.3.2 (Python), sharing one database.
# Each direction and each shared table is exercised by PgQueuer's own code, run from
# tests/interop/*.py inside a Debian 13 chroot (ci/lib/trixie.sh) over TCP:
#   1. schema installed by either side (defaults, a prefix, a schema) and verified by the other;
#      the catalogs the two installs create are compared                  (lib/interop_schema.sh)
#   2. Python-enqueued jobs with every option consumed by `pgq run` (payload bytes, headers)
#   3. `pgq queue` jobs consumed by a PgQueuer QueueManager; dedupe keys across languages
#   4. a mixed fleet (2 PgQueuer + 2 pgq workers) drains one queue: every job run and logged once
#   5. statistics aggregated by both sides without double counting        (2-5: lib/interop_jobs.sh)
#   6. failures, retries and held jobs written by one side, read, validated and requeued by the other
#   7. cancellation across languages of queued and running jobs          (6-7: lib/interop_failures.sh)
#   8. schedules registered, listed and run by both sides                  (lib/interop_schedules.sh)
# The sections run in that order, each using its own names in a database of its own; helpers
# are in lib/interop_env.sh. Waits are bounded polls.
# Run by ci/test (PGQ_TEST_DSN, PGQ_BUILD_DIR); under CI=true a chroot that cannot be built
# fails the suite, elsewhere the suite is skipped with a warning.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
lib=$pgq_root/tests/scripts/lib
require_build
require_database
require_tools psql curl python3
# shellcheck source=../../ci/lib/trixie.sh
source "$pgq_root/ci/lib/trixie.sh"

cancel_tool=$build/tests/interop_cancel
suite_start=$SECONDS
AWAIT_INTERVAL=0.2

pgq_trixie_chroot || skip_or_fail "the Debian 13 chroot with PgQueuer could not be built (see above)"
echo "interop: PgQueuer $PGQ_PGQUEUER_VERSION in $PGQ_TRIXIE_DIR"

# The programs and everything they write live inside the chroot: $inner as seen from
# Python, $work from here.
test_workdir "$PGQ_TRIXIE_DIR/opt"
inner=/opt/${work##*/}
cp "$pgq_root"/tests/interop/*.py "$work/"
mkdir -p "$work/out"
chmod -R a+rwX "$work"

db="interop_$RANDOM$RANDOM"
admin_dsn=$PGQ_TEST_DSN
export PGQUEUER_DSN=${PGQ_TEST_DSN%/*}/$db
SQL_DSN=$PGQUEUER_DSN
printf '%s\n' "$PGQUEUER_DSN" >"$work/dsn"
unset PGQUEUER_PREFIX PGQUEUER_SCHEMA
SQL_DSN=$admin_dsn sql "CREATE DATABASE $db" >/dev/null
at_exit 'SQL_DSN=$admin_dsn sql "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1' # after the workers
# shellcheck source=lib/worker.sh
source "$lib/worker.sh"
# shellcheck source=lib/interop_env.sh
source "$lib/interop_env.sh"

declare -A count=()
# shellcheck source=lib/interop_schema.sh
source "$lib/interop_schema.sh"
# shellcheck source=lib/interop_jobs.sh
source "$lib/interop_jobs.sh"
# shellcheck source=lib/interop_failures.sh
source "$lib/interop_failures.sh"
# shellcheck source=lib/interop_schedules.sh
source "$lib/interop_schedules.sh"

# ---- summary ----------------------------------------------------------------------------
echo
echo "interop summary (PgQueuer $PGQ_PGQUEUER_VERSION):"
echo "  installs verified across: ${count[installs]} (+ ${count[catalog]} catalog rows identical)"
echo "  jobs PgQueuer -> pgq: ${count[py_to_pgq]}; pgq -> PgQueuer: ${count[pgq_to_py]}"
echo "  mixed fleet: ${count[fleet]} jobs, split ${count[fleet_split]}"
echo "  held/retried and requeued across: ${count[held]}; log rows validated by PgQueuer: ${count[log_validated]}"
echo "  cancelled across: ${count[cancelled]}; statistics rows: ${count[stats_rows]}; schedule runs: ${count[schedule_runs]}"
echo "interop: ok, wall time $((SECONDS - suite_start)) s"